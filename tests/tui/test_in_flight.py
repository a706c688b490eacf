"""An operation belongs to the fleet's session, not to a screen: switching fleet never
cancels it, and quitting asks whether to wait for it or to leave it resumable."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from backends.core.events import DifferenceFound
from backends.engine.operations import Operations
from tests.support.synthetic import SyntheticBackend
from tests.tui.conftest import fleet_screen, make_app, ready, text_of, until
from tui.app import MoltApp
from tui.modals.quit import QuitModal
from tui.widgets.event_log import EventLog
from tui.widgets.header import FleetHeader
from tui.widgets.status import StatusLine


def outcomes(backend: SyntheticBackend, action: str = "retire") -> list[str]:
    return [r.outcome.value for r in backend.memory.since_seeded() if r.action == action]


async def exited(app: MoltApp, timeout: float = 10.0) -> None:
    """Until the app has decided to exit (its loop then stops answering the pilot)."""
    deadline = time.monotonic() + timeout
    while app.return_code is None:
        assert time.monotonic() < deadline, "the app never exited"
        await asyncio.sleep(0.02)


async def start_retire(pilot) -> None:
    """Retire g3 (selected at start) by typing its id, as an operator would."""
    await ready(pilot)
    await pilot.press("r", "g", "3", "enter")
    status = fleet_screen(pilot).query_one(StatusLine)
    await until(pilot, lambda: "retiring g3" in status.activity)


async def test_f_during_a_retire_lets_it_finish_and_shows_it_on_return(backend, clock):
    backend.drained = asyncio.Event()  # g3 drains until the test has looked
    other = SyntheticBackend("api", clock=clock)
    other.add_generation("v7", 2, weight=100)
    app = make_app(backend, clock, first="web", api=other)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_retire(pilot)
        await pilot.press("f", "down", "enter")  # to api
        await until(pilot, lambda: app.screen.query_one(FleetHeader).fleet == "api")
        await pilot.press("f", "up", "enter")  # and back, while web's retire still runs
        screen = await ready(pilot)
        assert screen.fleet.name == "web" and outcomes(backend) == []
        assert "retiring g3" in screen.query_one(StatusLine).activity
        backend.drained.set()
        await until(pilot, lambda: outcomes(backend) == ["ok"])
        await until(pilot, lambda: screen.snapshot.generation("g3") is None)
        assert screen.query_one(StatusLine).activity == ""


async def test_q_during_a_retire_can_wait_for_it_then_quits(backend, clock):
    backend.drained = asyncio.Event()
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_retire(pilot)
        await pilot.press("q")
        assert isinstance(app.screen, QuitModal)
        assert "web: retiring g3 (draining)" in app.screen.operations()[0]
        await pilot.press("w")  # wait: progress stays on screen until it is done
        assert "Waiting for 1 operation" in str(app.screen.query_one("#quit-title").render())
        assert outcomes(backend) == []
        backend.drained.set()
        await exited(app)
        assert outcomes(backend) == ["ok"]
    assert backend.closed and "the web fleet keeps running" in app.goodbye


async def test_q_during_a_retire_can_quit_now_and_leave_it_resumable(backend, clock):
    backend.drained = asyncio.Event()  # never set: g3 drains until Molt quits
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_retire(pilot)
        await pilot.press("q", "n")
        await exited(app)
    assert outcomes(backend) == ["interrupted"] and backend.closed
    assert "Interrupted" in app.goodbye and "web: retiring g3 (draining)" in app.goodbye
    backend.drained.set()
    await Operations(backend.open_as(read_only=False)).retire("g3")  # as `molt retire` would
    assert outcomes(backend) == ["interrupted", "ok"]
    assert backend.generations["g3"].lifecycle == "retired"


async def test_q_then_cancel_keeps_molt_and_the_retire_running(backend, clock):
    backend.drained = asyncio.Event()
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await start_retire(pilot)
        await pilot.press("q", "escape")
        assert not isinstance(app.screen, QuitModal) and app.return_code is None
        assert outcomes(backend) == []  # still draining
        backend.drained.set()
        await until(pilot, lambda: outcomes(backend) == ["ok"])


class Differing(SyntheticBackend):
    """A fleet whose world differs from what Molt set (as a read-only driver reports)."""

    WHAT = "HAProxy weight of g2 is 50, Molt set 30 (read-only: not applied)"

    async def snapshot(self):
        return replace(await super().snapshot(), differences=(self.WHAT,))

    async def watch(self):
        yield DifferenceFound(fleet=self.fleet, at=self.clock(), what=self.WHAT)
        async for event in super().watch():
            yield event


async def test_read_only_with_a_difference_changes_nothing_and_shows_it(clock):
    backend = Differing(clock=clock)
    backend.add_generation("v1", 2, weight=70)
    backend.add_generation("v2", 2, weight=30)
    app = make_app(backend, clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        status = screen.query_one(StatusLine)
        await until(pilot, lambda: f"≠ {Differing.WHAT}" in text_of(status))
        log = screen.query_one(EventLog)
        await until(pilot, lambda: any(e.text() == Differing.WHAT for e in log.visible_events))
        await pilot.pause(0.5)  # watching
        assert screen.snapshot.weights == {"g1": 70, "g2": 30}
        assert backend.memory.writes == [] and backend.read_only
