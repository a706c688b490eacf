"""The estates the estate and changes tests (and their snapshots) show: several synthetic
fleets under one App, each on its own backend kind, a frozen clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path

from textual.pilot import Pilot

from backends.config.fleet_config import FleetConfig
from backends.core.errors import Unreachable
from backends.core.journal import JournalRecord, Outcome
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import told, until
from tests.tui.fleets import three_generations
from tui.app import MoltApp
from tui.screens.estate import EstateScreen


def estate_app(
    clock: ManualClock,
    fleets: dict[str, SyntheticBackend],
    *,
    kinds: dict[str, str] | None = None,
    first: str | None = None,
    read_only: bool = False,
) -> MoltApp:
    """The real app over ``fleets`` (name → backend), each shown as ``kinds[name]``."""
    kinds = kinds or {}
    app = MoltApp(
        [FleetConfig(name=n, backend=kinds.get(n, "synthetic"), settings=None) for n in fleets],
        fleet=first,
        state_dir=Path("/nonexistent-molt-state"),
        read_only=read_only,
        opener=lambda fleet, _dir, *, read_only: fleets[fleet.name].open_as(read_only=read_only),
        clock=clock,
        tz=UTC,
    )
    told(app)
    return app


def journaled(
    backend: SyntheticBackend,
    seconds_ago: float,
    action: str,
    args: dict[str, object],
    *,
    operator: str = "bob",
    outcome: Outcome = Outcome.OK,
    reason: str = "",
) -> None:
    """A record in ``backend``'s journal, as if written ``seconds_ago``."""
    record = JournalRecord(
        fleet=backend.fleet,
        action=action,
        operator=operator,
        args=args,
        outcome=outcome,
        reason=reason,
        at=backend.clock() - timedelta(seconds=seconds_ago),
        id=f"{backend.fleet}-{action}-{seconds_ago:g}",
    )
    backend.memory.writes.append(record)
    backend.memory.seeded = len(backend.memory.writes)


def web(clock: ManualClock) -> SyntheticBackend:
    """The main screenshot's fleet: g1 70%, g2 30%, g3 launching; changed 40 s ago."""
    backend = SyntheticBackend(clock=clock, auto_health=0.01)
    three_generations(backend)
    backend.set_traffic("g1", 41.0, 0.001, 18, publish=False)
    backend.set_traffic("g2", 17.5, 0.004, 22, publish=False)
    return backend


def api(clock: ManualClock) -> SyntheticBackend:
    """One generation with all the traffic; promoted by bob 5 minutes ago."""
    backend = SyntheticBackend("api", clock=clock, entry="api.internal:443")
    backend.add_generation("v7", 2, weight=100, age=timedelta(minutes=20), launched_by="bob")
    backend.set_traffic("g1", 120.0, 0.0, 9, publish=False)
    journaled(backend, 300, "promote", {"generation": "g1"})
    return backend


def billing(clock: ManualClock) -> SyntheticBackend:
    """A fleet whose shift was cut short an hour ago (it needs attention)."""
    backend = SyntheticBackend("billing", clock=clock, entry="10.0.3.1:80")
    backend.add_generation("v3", 2, weight=90, age=timedelta(days=2))
    backend.add_generation("v4", 2, weight=10, age=timedelta(hours=2))
    journaled(
        backend,
        3000,
        "shift",
        {"weights": {"g1": 90, "g2": 10}},
        operator="carol",
        outcome=Outcome.INTERRUPTED,
        reason="Molt was stopped mid-way",
    )
    return backend


async def estate_ready(pilot: Pilot[None], answered: int | None = None) -> EstateScreen:
    """The estate once ``answered`` fleets (default: all) have a row read or unreachable,
    and painted. Bounded by 15 s: an App starting on a machine busy with the rest of the
    suite may take seconds; the failure says what was still missing."""
    app = pilot.app
    state = {"screen": False, "answered": 0, "of": 0, "pending": False}

    def shown() -> bool:
        screen = app.screen
        if not isinstance(screen, EstateScreen) or not screen.is_mounted:
            return False
        done = [s for s in screen.summaries.values() if s.read_at or not s.reachable]
        want = answered if answered is not None else len(screen.summaries)
        state.update(screen=True, answered=len(done), of=want, pending=screen.paint_pending)
        return len(done) >= want and not screen.paint_pending

    shown.__doc__ = "the estate with its rows answered and painted"
    try:
        await until(pilot, shown, timeout=15.0)
    except AssertionError:
        raise AssertionError(f"the estate was not ready: {state}") from None
    screen = app.screen
    assert isinstance(screen, EstateScreen)
    return screen


def payments(clock: ManualClock) -> SyntheticBackend:
    """A fleet whose load balancer host refuses connections."""
    backend = SyntheticBackend("payments", clock=clock, entry="10.0.9.1:443")
    backend.add_generation("v12", 3, weight=100)
    backend.fail("snapshot", Unreachable("connect to lb-9.internal:22: connection refused"))
    return backend


def estate_of_four(clock: ManualClock) -> MoltApp:
    """The estate screenshot: four fleets on three backends, two needing attention."""
    fleets = {"web": web(clock), "api": api(clock), "billing": billing(clock)}
    fleets["payments"] = payments(clock)
    kinds = {"web": "local", "api": "aws", "billing": "ssh", "payments": "ssh"}
    return estate_app(clock, fleets, kinds=kinds)


#: requests a second over the last reads, for the sparklines of a still screenshot
TRENDS = {
    "web": (40.0, 44, 52, 61, 58, 57, 63, 70, 66, 58.5),
    "api": (90.0, 95, 104, 118, 121, 119, 125, 130, 122, 120),
}


async def still(pilot: Pilot[None]) -> EstateScreen:
    """The estate read once, then held still (no more reads), with made-up trends."""
    screen = await estate_ready(pilot)
    screen.workers.cancel_group(screen, "estate-follow")
    following = [w for w in pilot.app.workers if w.group == "estate-follow"]
    await until(pilot, lambda: all(w.is_finished for w in following))
    for name, trend in TRENDS.items():
        screen.summaries[name] = replace(screen.summaries[name], rps=trend)
    screen.paint()
    await pilot.pause()
    return screen
