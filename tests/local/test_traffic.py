"""What real requests see, measured by the local proxy under real load: a version that
answers 500 to 30% of requests shows it, a healthy one does not, and the request rates
are what the load generator sent."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.core.model import GenerationSpec
from backends.engine.session import FleetSession
from backends.local.driver import LocalBackend
from tests.support.load import keep_alive_load
from tests.support.local import local_fleet, state_dir_env

pytestmark = pytest.mark.slow


async def test_the_proxy_measures_errors_rates_and_latency_per_generation():
    with state_dir_env() as state_dir:
        session = FleetSession.around(LocalBackend(local_fleet("web", count=2), state_dir))
        for version in ("v1", "v2-errors"):
            launched = await session.ops.launch(GenerationSpec(version=version))
            await session.wait_settled(launched.id, timeout=60)
        await session.ops.shift({"g1": 50, "g2": 50})
        entry = (await session.read()).entry
        stop = asyncio.Event()
        started = time.monotonic()
        load = asyncio.create_task(keep_alive_load(f"http://{entry}/", 4, stop, 0))
        await asyncio.sleep(8)
        stop.set()
        tally = await load
        elapsed = time.monotonic() - started
        snapshot = await session.read()
        good, bad = snapshot.generations
        sent_bad = sum(1 for f in tally.failures if "v2-errors" in f) + tally.bodies["v2-errors"]
        sent_good = tally.bodies["v1"]
        assert 0.20 <= bad.traffic.error_rate <= 0.40, bad.traffic
        assert good.traffic.error_rate < 0.01, good.traffic
        for generation, sent in ((good, sent_good), (bad, sent_bad)):
            assert generation.traffic.requests == pytest.approx(sent, rel=0.05)
            assert generation.traffic.rps == pytest.approx(sent / elapsed, rel=0.2)
            assert 0 < generation.traffic.p50_ms <= generation.traffic.p99_ms
        per_instance = [i.traffic.requests for i in bad.instances]
        assert sum(per_instance) == bad.traffic.requests and min(per_instance) > 0
        assert bad.traffic.history is not None and bad.traffic.history.rps[-1] is not None
        json = snapshot.to_json()["generations"][1]["traffic"]
        assert set(json) >= {
            "window_s",
            "requests",
            "rps",
            "error_rate",
            "p50_ms",
            "p99_ms",
            "avg_ms",
            "max_ms",
            "as_of",
        }
        await session.close()


async def test_a_watching_session_sees_the_numbers_move_with_no_event():
    """The local agent is read when asked: a session that watches (the TUI, `molt
    watch`) reads again on its own, so the numbers on screen follow real requests."""
    from backends.engine.updates import SnapshotUpdated

    with state_dir_env() as state_dir:
        session = FleetSession.around(LocalBackend(local_fleet("web", count=1), state_dir))
        launched = await session.ops.launch(GenerationSpec(version="v1"))
        await session.wait_settled(launched.id, timeout=60)
        await session.ops.promote(launched.id)
        entry = (await session.read()).entry
        seen: list[int] = []

        def counted(update: object) -> None:
            if isinstance(update, SnapshotUpdated):
                traffic = update.snapshot.generations[0].traffic
                seen.append(traffic.requests if traffic is not None else 0)

        session.listen(counted)
        session.start()
        try:
            await asyncio.sleep(3)  # settled: no health event is due any more
            stop = asyncio.Event()
            load = asyncio.create_task(keep_alive_load(f"http://{entry}/", 2, stop, 0))
            before = len(seen)
            await asyncio.sleep(6)
            stop.set()
            await load
            assert len(seen) - before >= 2, seen  # reads with no event to cause them
            assert seen[-1] > 0
        finally:
            await session.close()
