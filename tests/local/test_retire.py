"""Retiring on the local backend: draining, joining a retire already under way."""

from __future__ import annotations

import asyncio

import pytest

from backends.local.client import LocalBackend
from backends.model import GenerationSpec
from backends.operations import Operations
from backends.session import FleetSession
from tests.support.local import local_fleet, state_dir_env

pytestmark = pytest.mark.slow


async def test_a_second_retire_joins_the_first_instead_of_failing():
    with state_dir_env() as state_dir:
        backend = LocalBackend(local_fleet("web", count=1, drain_timeout=2.0), state_dir)
        ops = Operations(backend)
        try:
            for version in ("v1", "v2"):
                generation = await ops.launch(GenerationSpec(version=version, count=1))
                await FleetSession.around(backend).wait_settled(generation.id, timeout=30)
            await ops.promote("g2")
            first, second = await asyncio.gather(
                ops.retire("g1"), ops.retire("g1"), return_exceptions=True
            )
            assert first is None and second is None
            assert [g.id for g in (await backend.snapshot()).generations] == ["g2"]
            outcomes = [
                r.outcome.value
                for r in await backend.journal.records("web")
                if r.action == "retire"
            ]
            assert outcomes == ["ok", "ok"]
        finally:
            await backend.close()
