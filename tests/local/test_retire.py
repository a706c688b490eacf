"""Retiring on the local backend: draining, joining a retire already under way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backends.core.locking import Locked
from backends.core.model import GenerationSpec
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from backends.local.driver import LocalBackend
from tests.support.local import local_fleet, state_dir_env

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"


async def two_live_generations(backend: LocalBackend) -> Operations:
    ops = Operations(backend)
    for version in ("v1", "v2"):
        generation = await ops.launch(GenerationSpec(version=version, count=1))
        await FleetSession.around(backend).wait_settled(generation.id, timeout=30)
    await ops.promote("g2")
    return ops


async def test_the_agent_joins_a_second_retire_to_the_one_under_way():
    with state_dir_env() as state_dir:
        backend = LocalBackend(local_fleet("web", count=1, drain_timeout=2.0), state_dir)
        try:
            await two_live_generations(backend)
            first, second = await asyncio.gather(
                backend.retire("g1"), backend.retire("g1"), return_exceptions=True
            )
            assert first is None and second is None
            assert [g.id for g in (await backend.snapshot()).generations] == ["g2"]
        finally:
            await backend.close()


async def test_a_second_operator_retiring_at_once_is_refused_naming_the_first():
    # an app that ignores SIGTERM: each retire takes the stop grace (5 s), so both
    # operators surely ask while the first one still holds the fleet
    fleet = local_fleet(
        "web", count=1, drain_timeout=0, artifact=APPS, start="{python} stubborn.py --port {port}"
    )
    with state_dir_env() as state_dir:
        backend, other = LocalBackend(fleet, state_dir), LocalBackend(fleet, state_dir)
        try:
            ops = await two_live_generations(backend)
            first, second = await asyncio.gather(
                ops.retire("g1"), Operations(other).retire("g1"), return_exceptions=True
            )
            refused = second if first is None else first
            assert isinstance(refused, Locked), (first, second)
            assert "locked by" in refused.message and ": retire g1, since" in refused.message
            assert [g.id for g in (await backend.snapshot()).generations] == ["g2"]
            retires = [r for r in await backend.journal.records("web") if r.action == "retire"]
            assert [r.outcome.value for r in retires] == ["ok"]
        finally:
            await backend.close()
            await other.close()
