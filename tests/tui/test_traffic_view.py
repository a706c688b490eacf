"""What real requests see, in each generation's column: a traffic line, sparklines of the
request rate and the errors, and a flag (glyph and words) on a generation doing worse
than its baseline — whose crossing is an event in the stream."""

from __future__ import annotations

import pytest

from backends.core.baseline import worse_than_baseline
from backends.core.events import TrafficCrossed
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tui.screens.fleet import FleetScreen
from tui.sparkline import sparkline
from tui.widgets.column_rows import traffic_rows
from tui.widgets.event_log import EventLog
from tui.widgets.generations import GenerationStrip

STEADY = [(40.0 + n, 0.001) for n in range(12)]  # (req/s, error rate) per 10 s step
FLAG = "⚑ 5xx 31% vs 0.1% on g1"


def fleet(clock: ManualClock) -> SyntheticBackend:
    """g1 carries 90% and does fine; g2 takes 10%; g3 has seen no request yet."""
    backend = SyntheticBackend(clock=clock)
    backend.add_generation("v1", 3, weight=90)
    backend.add_generation("v2", 3, weight=10)
    backend.add_generation("v3", 2)
    backend.set_traffic("g1", 41, 0.001, 18, history=STEADY)
    backend.set_traffic("g2", 5, 0.001, 19, history=[(5.0, 0.001)] * 6)
    return backend


def column_text(screen: FleetScreen, generation: str) -> str:
    column = screen.query_one(GenerationStrip).column(generation)
    assert column is not None, f"no column for {generation}"
    return text_of(column)


async def test_each_column_shows_its_traffic_line_and_sparklines(clock: ManualClock) -> None:
    app = make_app(fleet(clock), clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        g1 = column_text(screen, "g1")
        assert "41 req/s  5xx 0.1%  p99 18 ms" in g1
        rows = {line.strip("│ ").partition(" ")[0]: line.strip("│ ") for line in g1.splitlines()}
        assert rows["req/s"].endswith(sparkline([r for r, _ in STEADY], 12))
        assert rows["5xx"].endswith("▁" * 12)  # 0.1% of errors: a flat line, not a full cell
        assert "5.0 req/s  5xx 0.1%  p99 19 ms" in column_text(screen, "g2")
        assert "no traffic seen yet" in column_text(screen, "g3")
        assert "⚑" not in g1 + column_text(screen, "g2")


async def test_a_generation_worse_than_its_baseline_is_flagged_and_the_moment_is_an_event(
    clock: ManualClock,
) -> None:
    backend = fleet(clock)
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        backend.set_traffic("g2", 5, 0.31, 19, history=[(5.0, 0.001)] * 5 + [(5.0, 0.31)])
        await until(pilot, lambda: FLAG in column_text(screen, "g2"))
        assert "5.0 req/s  5xx 31%  p99 19 ms" in column_text(screen, "g2")
        assert "⚑" not in column_text(screen, "g1")  # the baseline is not judged against itself
        await until(pilot, lambda: "⚑ g2 does worse than g1: 5xx 31% vs 0.1% on g1" in text_of(log))
        crossed = [e for e in log.visible_events if isinstance(e, TrafficCrossed)]
        assert [(e.generation, e.worse) for e in crossed] == [("g2", True)]

        backend.set_traffic("g2", 5, 0.002, 19)  # fixed: the flag goes, the stream says when
        await until(pilot, lambda: "✓ g2 no longer does worse than g1" in text_of(log))
        assert "⚑" not in column_text(screen, "g2")


async def test_the_flag_reads_without_color(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    backend = fleet(clock)
    backend.set_traffic("g2", 5, 0.31, 19)
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert app.no_color
        await until(pilot, lambda: FLAG in column_text(screen, "g2"))
        shown = app.export_screenshot()  # what the terminal gets, through the NO_COLOR filter
        assert "⚑&#160;5xx&#160;31%&#160;vs&#160;0.1%&#160;on&#160;g1" in shown


async def test_too_few_requests_are_not_judged(clock: ManualClock) -> None:
    backend = fleet(clock)
    backend.set_traffic("g2", 0.2, 0.5, 19)  # 12 requests in the window: one bad one says little
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: "0.2 req/s  5xx 50%" in column_text(screen, "g2"))
        assert "⚑" not in column_text(screen, "g2")


def test_sparklines_scale_squeeze_and_leave_unknown_steps_blank() -> None:
    assert sparkline([0, 5, 10], 3) == "▁▅█"
    assert sparkline([1, 2], 4) == "  ▅█"  # fewer steps than cells: blank on the left
    assert sparkline([4, None, 4], 3) == "█ █"
    assert sparkline([0.001] * 3, 3, floor=0.05) == "▁▁▁"  # tiny error rates stay flat
    assert sparkline([0, 0, 0, 9, 0, 0], 3, combine=max) == "▁█▁"  # a spike survives


async def test_a_narrow_column_keeps_the_numbers_and_drops_the_spaces(clock: ManualClock) -> None:
    backend = fleet(clock)
    backend.set_traffic("g2", 1234.5, 0.31, 1840)
    snapshot = await backend.snapshot()
    g2 = snapshot.generation("g2")
    assert g2 is not None
    rows = traffic_rows(g2, worse_than_baseline(snapshot, "g2"), 26)  # a 30-cell column
    assert ["".join(text for text, _ in row) for row in rows] == [
        "1234/s 5xx 31% p99 1840ms",
        "⚑ 5xx 31% vs 0.1% on g1",
        "⚑ p99 1840ms vs 18ms on g1",
    ]


async def test_inspect_shows_what_real_requests_see_per_instance(clock: ManualClock) -> None:
    from dataclasses import replace

    from backends.core.traffic import Traffic
    from tui.screens.inspect import InspectScreen

    backend = fleet(clock)
    g2 = backend.generations["g2"]
    numbers = Traffic(window_s=30.0, requests=930, rps=31.0, error_rate=0.31, as_of=clock())
    g2.instances[0] = replace(g2.instances[0], traffic=numbers)
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("left", "enter")  # g3 is selected at start: g2, inspected
        assert isinstance(app.screen, InspectScreen)
        table = app.screen.query_one("#instances")
        await until(pilot, lambda: table.row_count == 3)
        assert str(table.get_row("g2-1")[3]) == "31 req/s  5xx 31%  p99 —"
        assert str(table.get_row("g2-2")[3]) == "—"  # nothing known for it: not zero
