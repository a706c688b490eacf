"""The estate reads every fleet at once, each within its own deadline: a dead fleet never
delays the others, a failed one keeps its last summary (marked unreachable, since when)
and is not read again before its backoff ends. Synthetic fleets, a manual clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from backends.core.errors import ConfigError, Unreachable
from backends.core.estate import SPARK_SAMPLES
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot
from backends.engine.estate import Estate
from backends.engine.session import FleetSession
from tests.support.synthetic import ManualClock, SyntheticBackend


class CountedFleet(SyntheticBackend):
    """A synthetic fleet that counts its reads and can be made to hang (a black hole)
    or to wait for company (``meet``: every fleet sharing it must be read at once)."""

    def __init__(self, name: str, clock: ManualClock) -> None:
        super().__init__(name, clock=clock)
        self.reads = 0
        self.answering = asyncio.Event()  # cleared: reads hang until it is set again
        self.answering.set()
        self.meet: asyncio.Barrier | None = None

    async def snapshot(self) -> FleetSnapshot:
        self.reads += 1
        await self.answering.wait()
        if self.meet is not None:
            await self.meet.wait()
        return await super().snapshot()


def estate_of(*fleets: CountedFleet, clock: ManualClock, deadline: float = 2.0) -> Estate:
    sessions = {f.fleet: FleetSession.around(f) for f in fleets}
    return Estate(
        [f.config for f in fleets],
        Path("/nonexistent-molt-state"),
        read_only=False,
        session_for=lambda config: sessions[config.name],
        clock=clock,
        deadline=deadline,
    )


def two_fleets(clock: ManualClock) -> tuple[CountedFleet, CountedFleet]:
    web, api = CountedFleet("web", clock), CountedFleet("api", clock)
    web.add_generation("v1", 2, weight=100)
    api.add_generation("v7", 3, weight=100)
    return web, api


async def test_fleets_are_read_at_the_same_time():
    clock = ManualClock()
    web, api = two_fleets(clock)
    web.meet = api.meet = asyncio.Barrier(2)  # read one after the other, neither answers
    estate = estate_of(web, api, clock=clock)
    summaries = await estate.refresh()
    assert {s.name: s.reachable for s in summaries} == {"web": True, "api": True}
    assert [g.version for g in estate.summary("api").snapshot.generations] == ["v7"]


async def test_a_dead_fleet_never_delays_the_others():
    clock = ManualClock()
    web, api = two_fleets(clock)
    api.answering.clear()
    estate = estate_of(web, api, clock=clock, deadline=0.5)
    seen = []
    async for summary in estate.follow(period=60):
        seen.append(summary)
        if len(seen) == 2:
            break
    assert [(s.name, s.reachable) for s in seen] == [("web", True), ("api", False)]
    assert seen[1].problem == "no answer in 0.5 s"
    assert seen[1].attention[0] == "unreachable since 14:02:11: no answer in 0.5 s"
    summaries = await estate.refresh()  # in backoff: answered at once, dead one first
    assert [s.name for s in summaries] == ["api", "web"]
    await estate.close()


async def test_a_failed_fleet_keeps_its_last_summary_and_waits_out_its_backoff():
    clock = ManualClock()
    web, _ = two_fleets(clock)
    estate = estate_of(web, clock=clock)
    await estate.refresh()
    web.fail("snapshot", Unreachable("10.0.0.1: connection refused"))
    clock.advance(30)
    (down,) = await estate.refresh()
    assert not down.reachable and down.problem == "10.0.0.1: connection refused"
    assert down.since == clock.now
    assert [g.version for g in down.snapshot.generations] == ["v1"]  # kept, stale
    reads = web.reads
    clock.advance(1.5)
    await estate.refresh()
    assert web.reads == reads  # 2 s backoff: not tried again yet
    clock.advance(1)
    await estate.refresh()
    assert web.reads == reads + 1  # tried, failed again: now 4 s
    clock.advance(3)
    (still,) = await estate.refresh()
    assert web.reads == reads + 1 and still.since == down.since
    web.heal()
    clock.advance(1.5)
    (back,) = await estate.refresh()
    assert back.reachable and back.problem == "" and back.since is None
    assert back.attention == ()


async def test_what_needs_attention_is_said_in_words():
    clock = ManualClock()
    web = CountedFleet("web", clock)
    web.add_generation("v1", 2, weight=90)
    web.add_generation("v2", 2, weight=10)
    web.set_traffic("g1", 100.0, error_rate=0.001, p99_ms=20)
    web.set_traffic("g2", 10.0, error_rate=0.3, p99_ms=20)
    await web.elsewhere("bob").record("verify", {"generation": "g2", "drift": ["app.py"]})
    lease = Lease.new("carol", "retire g1", "r1")
    web.leases[lease.lock] = replace(lease, since=clock.now - timedelta(minutes=12))
    estate = estate_of(web, clock=clock)
    (summary,) = await estate.refresh()
    assert summary.attention == (
        "g2 tainted",
        "g2 worse: 5xx 30% vs 0.1% on g1",
        "lock held by carol for 12 minutes: retire g1",
    )
    assert summary.last_change == clock.now
    assert summary.status is not None and summary.status["lock"]["holder"] == "carol"
    assert summary.to_json()["reachable"] is True


async def test_the_sparkline_keeps_the_last_samples():
    clock = ManualClock()
    web, _ = two_fleets(clock)
    estate = estate_of(web, clock=clock)
    for rps in range(SPARK_SAMPLES + 5):
        web.set_traffic("g1", float(rps))
        await estate.refresh()
    rps = estate.summary("web").rps
    assert len(rps) == SPARK_SAMPLES and rps[-1] == SPARK_SAMPLES + 4


async def test_a_look_writes_nothing():
    clock = ManualClock()
    web, api = two_fleets(clock)
    estate = estate_of(web, api, clock=clock)
    for _ in range(3):
        await estate.refresh()
    assert web.memory.writes == [] and api.memory.writes == []
    assert web.leases == {} and not web.closed  # handed in: the estate does not close it
    await estate.close()
    assert not web.closed


async def until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_session_that_follows_its_fleet_is_not_read_again():
    clock = ManualClock()
    web, _ = two_fleets(clock)
    session = FleetSession.around(web)
    session.start()  # as the TUI's session of the fleet it shows
    await until(lambda: session.snapshot is not None)
    web.answering.clear()  # a read now would not answer
    estate = Estate(
        [web.config],
        Path("/nonexistent"),
        read_only=False,
        session_for=lambda _: session,
        clock=clock,
        deadline=0.3,
    )
    (summary,) = await estate.refresh()
    assert summary.reachable and [g.version for g in summary.snapshot.generations] == ["v1"]
    web.answering.set()
    web.fail("snapshot", Unreachable("10.0.0.1: connection refused"))
    await until(lambda: session.problem != "")  # its own reads fail: it says so
    (summary,) = await estate.refresh()
    assert not summary.reachable and "10.0.0.1: connection refused" in summary.problem
    assert summary.snapshot is not None  # what it saw last
    await session.close()


async def test_closing_the_estate_under_a_follower_ends_its_reads():
    clock = ManualClock()
    web, api = two_fleets(clock)
    api.answering.clear()
    estate = estate_of(web, api, clock=clock, deadline=60)
    follower = estate.follow(period=60)
    assert (await anext(follower)).name == "web"
    pending = asyncio.ensure_future(anext(follower))
    await until(lambda: api.reads == 1)
    await estate.close()
    last = await asyncio.wait_for(pending, 10)
    assert last.name == "api" and last.snapshot is None  # never read: nothing to show
    assert await asyncio.wait_for(anext(follower, None), 10) is None  # the follow ended
    assert await estate.refresh() == estate.summaries()  # answered from what was kept


async def test_a_fleet_that_cannot_be_opened_is_shown_with_why():
    clock = ManualClock()
    web, api = two_fleets(clock)
    session = FleetSession.around(web)

    def session_for(config):
        if config.name == "api":
            raise ConfigError("fleets.api: identity ~/.ssh/deploy does not exist")
        return session

    estate = Estate(
        [web.config, api.config],
        Path("/nonexistent"),
        read_only=True,
        session_for=session_for,
        clock=clock,
    )
    down, up = await estate.refresh()
    assert (down.name, down.reachable, up.name, up.reachable) == ("api", False, "web", True)
    assert down.problem == "Configuration error: fleets.api: identity ~/.ssh/deploy does not exist"


async def test_a_fleet_whose_row_cannot_be_built_is_its_own_problem(monkeypatch):
    """Odd data in one fleet (its row's building raises) marks that fleet, not the estate."""
    import backends.engine.estate as engine_estate

    clock = ManualClock()
    web, api = two_fleets(clock)
    real = engine_estate.summarize

    def odd_for_api(session, *args, **kwargs):
        if session.name == "api":
            raise ValueError("a journal record Molt cannot read")
        return real(session, *args, **kwargs)

    monkeypatch.setattr(engine_estate, "summarize", odd_for_api)
    async with estate_of(web, api, clock=clock) as estate:
        shown = {s.name: s for s in await estate.refresh()}
    assert shown["web"].reachable and shown["web"].snapshot is not None
    assert not shown["api"].reachable
    assert "a journal record Molt cannot read" in shown["api"].problem
