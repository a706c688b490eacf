"""Every AWS test runs against moto's server on loopback with fake credentials: an
empty account per test, with the ALB and listener an operator would have made."""

from __future__ import annotations

import asyncio

import pytest

from backends.aws.driver import AwsBackend
from tests.aws.support import (
    ScriptedTargetHealth,
    World,
    aws_fleet,
    fake_aws_env,
    make_world,
    moto_endpoint,
    reset_moto,
)


@pytest.fixture(autouse=True)
def _fake_aws():
    with fake_aws_env():
        yield


@pytest.fixture
def world() -> World:
    endpoint = moto_endpoint()
    reset_moto(endpoint)
    return make_world(endpoint)


@pytest.fixture
def health() -> ScriptedTargetHealth:
    """Targets are pending for a moment, then as moto (or the test's script) says."""
    return ScriptedTargetHealth(pending_for=0.0)


@pytest.fixture
async def backend(world, health, tmp_path):
    driver = AwsBackend(aws_fleet(world), tmp_path)
    driver.target_health = health
    yield driver
    await asyncio.wait_for(driver.close(), 10)
