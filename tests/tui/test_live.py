"""What the operator watches: events from elsewhere, filtering, highlighting, inspect,
switching fleets, the palette, quitting — and that the screen keeps up under load."""

from __future__ import annotations

import time

from textual.command import CommandPalette
from textual.widgets import DataTable

from backends.core.events import EventKind
from backends.core.model import GenerationSpec, Health
from backends.engine.operations import Operations
from tests.support.synthetic import SyntheticBackend
from tests.tui.conftest import choose, fleet_screen, make_app, ready, text_of, until
from tui.screens.inspect import InspectScreen
from tui.widgets.event_log import EventLog
from tui.widgets.generations import GenerationStrip
from tui.widgets.header import FleetHeader


async def test_actions_of_other_operators_appear_without_a_key_press(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        cli = Operations(backend)  # another molt process, e.g. `molt launch` by bob
        cli._operator = "bob"
        await cli.launch(GenerationSpec(version="v4", count=2, launched_by="bob"))
        await until(pilot, lambda: screen.query_one(GenerationStrip).column("g4") is not None)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: any("bob launch v4" in e.text() for e in log.visible_events))
        assert log.visible_events[0].at <= backend.clock()


async def test_journal_seeds_the_stream_and_health_events_follow(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: len(log.visible_events) == 5)
        assert log.visible_events[-1].text() == "bob launch v1 ×6 → g1 “baseline”"
        backend.set_health("g3-4", Health.UNHEALTHY, "GET /healthz → 500 (2/2 failed)")
        await until(pilot, lambda: log.visible_events[0].kind is EventKind.HEALTH)
        assert "✖" in log.render_line(0).text and "14:02:11" in log.render_line(0).text


async def test_slash_filters_by_generation_and_selection_highlights(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: len(log.visible_events) == 5)
        await pilot.press("slash", "g", "1", "enter")
        assert {e.generation for e in log.visible_events} == {"g1"}
        assert "filter: g1" in str(screen.query_one("#events").border_title)
        assert not screen.query_one("#filter").display  # enter keeps the filter, not the field
        await pilot.press("slash", "escape")
        assert len(log.visible_events) == 5
        await pilot.press("slash", *"shift", "enter")
        assert [e.text() for e in log.visible_events] == ["alice shift g1=70 g2=30 (was 100/0)"]
        await pilot.press("slash", "escape")
        await choose(pilot, "g2")
        assert log.highlight == "g2"
        lit = [y for y in range(5) if log.render_line(y).text.startswith("▌")]
        assert len(lit) == 2  # g2's launch, and the shift that gave it traffic


async def test_enter_inspects_instances_spec_and_journal_and_escape_returns(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await choose(pilot, "g2")
        await pilot.press("enter")
        assert isinstance(app.screen, InspectScreen)
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 6)
        assert str(table.get_row("g2-1")[1]) == "10.0.2.1:8000"  # a literal Text
        assert "registry.example/web:v2" in text_of(app.screen.query_one("#spec"))
        await until(pilot, lambda: len(app.screen.records) == 2)
        backend.set_health("g2-6", Health.HEALTHY, "200 in 4 ms")
        await until(pilot, lambda: "healthy" in str(table.get_row("g2-6")[2]))
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


async def test_q_quits_and_says_the_fleet_keeps_running(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("q")
    assert "the web fleet keeps running (3 generations, entry 10.0.0.1:443)" in app.goodbye


async def test_f_switches_fleets_and_the_palette_lists_every_action(backend, clock):
    other = SyntheticBackend("api", clock=clock)
    other.add_generation("v7", 2, weight=100)
    app = make_app(backend, clock, first="web", api=other)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"switch to fleet api", "enter")
        await until(pilot, lambda: app.screen.query_one(FleetHeader).fleet == "api")
        screen = await ready(pilot)
        assert [g.version for g in screen.snapshot.generations] == ["v7"]
        await pilot.press("f", "up", "enter")
        await until(pilot, lambda: fleet_screen(pilot).fleet.name == "web")


async def test_health_events_reach_the_screen_and_paints_are_coalesced(app, backend):
    """How fast they arrive is a benchmark's (tests/benchmarks/tui_scale.py, key → paint
    p95): a bound of 0.2 s here failed on a busy machine (0.21 s)."""
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        painted: list[float] = []  # events painted, and snapshots painted
        snapshots: list[float] = []
        paint_events, paint_snapshot = screen.paint_events, screen.paint_snapshot
        screen.paint_events = lambda e: (painted.append(time.monotonic()), paint_events(e))
        screen.paint_snapshot = lambda s: (snapshots.append(time.monotonic()), paint_snapshot(s))
        column = screen.query_one(GenerationStrip).column("g3")
        await pilot.pause(0.3)  # past start-up work
        for n in (1, 2, 3):  # each transition shows with no key pressed
            backend.set_health(f"g3-{n}", Health.HEALTHY)
            await until(pilot, lambda n=n: column.generation.healthy_count() == n)
        painted.clear()
        snapshots.clear()
        started = time.monotonic()
        for n in range(2000):  # a storm: 2,000 transitions as fast as they come
            backend.set_health(f"g1-{n % 6 + 1}", [Health.PENDING, Health.HEALTHY][n % 2])
            if n % 100 == 0:
                await pilot.pause(0.01)
        await pilot.pause(0.3)
        seconds = time.monotonic() - started
        assert len(painted) <= 12 * seconds + 1  # the event log adds ≤ 4 frames a second
        assert len(snapshots) <= 12 * seconds + 1
        await until(pilot, lambda: len(screen.query_one(EventLog).visible_events) > 2000)


async def test_no_color_keeps_glyphs_and_borders_readable(backend, clock, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        assert app.no_color
        selected = screen.query_one(GenerationStrip).column("g3")
        text = "\n".join(selected.render_line(y).text for y in range(5))
        assert "┏" in text and "◌◌◌◌" in text  # heavy border marks the selection
