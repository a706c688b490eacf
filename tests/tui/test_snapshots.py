"""What the operator sees, pinned: synthetic fleet, frozen clock, fixed ids, 120×36.

Regenerate with ``make snapshot-update`` and look at every changed SVG before committing.
"""

from __future__ import annotations

from textual.widgets import Input

from backends.core.errors import Unreachable
from backends.core.model import Health
from tests.tui.conftest import SIZE, make_app, ready, until
from tests.tui.fleets import health_story, three_generations
from tests.tui.test_in_flight import Differing
from tui.modals.launch import LaunchModal
from tui.widgets.event_log import EventLog
from tui.widgets.status import StatusLine


def story(backend, clock):
    """Start, then let g2-5 come up and g3-4 fail, as the main screen shows them."""

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: len(log.visible_events) == 5)
        health_story(backend, clock)
        await until(pilot, lambda: len(log.visible_events) == 7)
        await until(
            pilot, lambda: screen.snapshot.generation("g3").instances[3].health is Health.UNHEALTHY
        )

    return run_before


def test_main_screen_three_generations_mixed_health_and_weights(snap_compare, backend, clock):
    app = make_app(backend, clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=story(backend, clock))


def test_launch_modal(snap_compare, backend, clock):
    app = make_app(backend, clock)
    before = story(backend, clock)

    async def run_before(pilot) -> None:
        await before(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchModal))
        for field in app.screen.query(Input):
            field.cursor_blink = False  # the same frame however busy the machine is
        await until(pilot, lambda: app.screen.query_one("#version", Input).has_focus)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_staged_shift(snap_compare, backend, clock):
    app = make_app(backend, clock)
    keys = ["left", "plus", "plus"]  # g2, 20 points from g1
    assert snap_compare(app, terminal_size=SIZE, run_before=story(backend, clock), press=keys)


def test_retire_confirmation(snap_compare, backend, clock):
    app = make_app(backend, clock)
    keys = ["r", "g", "3", "3", "enter"]  # g3 is selected; a typo is refused
    assert snap_compare(app, terminal_size=SIZE, run_before=story(backend, clock), press=keys)


def test_inspect_screen(snap_compare, backend, clock):
    app = make_app(backend, clock)
    keys = ["left", "enter"]
    assert snap_compare(app, terminal_size=SIZE, run_before=story(backend, clock), press=keys)


def test_read_only_header(snap_compare, backend, clock):
    app = make_app(backend, clock, read_only=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=story(backend, clock))


def test_backend_error(snap_compare, backend, clock):
    app = make_app(backend, clock)

    async def run_before(pilot) -> None:
        await story(backend, clock)(pilot)
        backend.fail("snapshot", Unreachable("the local agent did not answer snapshot within 60 s"))
        backend.set_health("g2-6", Health.HEALTHY, "200 in 3 ms (2/2 passed)")
        status = pilot.app.screen.query_one(StatusLine)
        await until(pilot, lambda: status.problem != "")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_read_only_difference(snap_compare, clock):
    backend = Differing(clock=clock, auto_health=0.01)
    three_generations(backend)
    app = make_app(backend, clock, read_only=True)

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: len(log.visible_events) == 6)  # the journal, the difference
        await until(pilot, lambda: screen.query_one(StatusLine).difference != "")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
