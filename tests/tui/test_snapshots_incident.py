"""The incident responder's views, pinned: synthetic fleet, frozen clock, 120×36.

Regenerate with ``make snapshot-update`` and look at every changed SVG before committing.
"""

from __future__ import annotations

from textual.widgets import Log

from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tests.tui.fleets import health_story
from tests.tui.test_taint_view import drifting
from tui.modals.diff import DiffModal
from tui.screens.inspect import InspectScreen
from tui.screens.logs import LogsScreen
from tui.screens.timeline import TimelineScreen, TimelineView


def test_timeline(snap_compare, backend, clock):
    """The journal's actions and the health incidents seen since, oldest first."""

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        health_story(backend, clock)  # g3-4 fails its checks: an incident
        await until(pilot, lambda: len(screen.incident.noteworthy) == 1)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen))
        view = pilot.app.screen.query_one(TimelineView)
        await until(pilot, lambda: len(view.visible_moments) == 6)

    assert snap_compare(make_app(backend, clock), terminal_size=SIZE, run_before=run_before)


def test_logs_view(snap_compare, backend, clock):
    """What g3-1 printed, a line with escapes in it, then one more as it follows."""
    for line in ("starting v3 on :8000", "cache: warming 12 keys", "\x1b[31m[bold]boom[/]"):
        backend.print_line("g3-1", line)

    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(pilot.app.screen, LogsScreen))
        screen = pilot.app.screen
        await until(pilot, lambda: screen.state == "following" and screen.printed == 3)
        backend.print_line("g3-1", "GET /healthz → 500")
        log = screen.query_one(Log)
        await until(pilot, lambda: "GET /healthz" in text_of(log))

    assert snap_compare(make_app(backend, clock), terminal_size=SIZE, run_before=run_before)


def test_tainted_generation(snap_compare, clock):
    """g2 was edited by hand on two hosts: marked in the fleet view, listed on inspect."""
    backend = drifting(clock)

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        await screen.session.verify()
        await until(pilot, lambda: screen.snapshot.generation("g2").tainted)
        await pilot.press("left", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectScreen))
        await until(pilot, lambda: pilot.app.screen.records)  # its journal, with the verify

    assert snap_compare(make_app(backend, clock), terminal_size=SIZE, run_before=run_before)


def test_tainted_generation_in_the_fleet_view(snap_compare, clock):
    backend = drifting(clock)

    async def run_before(pilot) -> None:
        screen = await ready(pilot)
        await screen.session.verify()
        await until(pilot, lambda: screen.snapshot.generation("g2").tainted)
        await until(pilot, lambda: "g2 tainted" in text_of(screen.query_one("AttentionBar")))

    assert snap_compare(make_app(backend, clock), terminal_size=SIZE, run_before=run_before)


def test_diff_modal(snap_compare, backend, clock):
    backend.add_generation("v4-new", 2, note="feature flag")

    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, DiffModal))
        await until(pilot, lambda: pilot.app.screen.differences is not None)

    assert snap_compare(make_app(backend, clock), terminal_size=SIZE, run_before=run_before)
