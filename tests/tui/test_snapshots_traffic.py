"""What the operator sees of traffic, rollouts and text from outside, pinned: synthetic
fleet, frozen clock, fixed ids, 120×36.

Regenerate with ``make snapshot-update`` and look at every changed SVG before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from textual.pilot import Pilot

from backends.core.events import TrafficCrossed
from backends.core.locking import ROLLOUT_LOCK
from backends.core.rollout import Plan
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tests.tui.fleets import three_generations
from tests.tui.test_literal_text import NOTE, fleet_with_note
from tui.widgets.attention import AttentionBar
from tui.widgets.event_log import EventLog
from tui.widgets.generations import GenerationStrip

SnapCompare = Callable[..., bool]

STEADY = [(38.0 + (n % 4), 0.001) for n in range(30)]  # (req/s, error rate) per 10 s step
BREAKING = [(14.0 + (n % 3), 0.002) for n in range(24)] + [(17.0, 0.1), (17.0, 0.31)]


def test_a_generation_worse_than_its_baseline_is_flagged(
    snap_compare: SnapCompare, clock: ManualClock
) -> None:
    backend = SyntheticBackend(clock=clock)
    three_generations(backend)  # g1 70%, g2 30%, g3 launching (no traffic yet)
    backend.set_traffic("g1", 41, 0.001, 18, history=STEADY)
    backend.set_traffic("g2", 17, 0.31, 240, history=BREAKING)
    app = make_app(backend, clock)

    async def run_before(pilot: Pilot[None]) -> None:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: any(isinstance(e, TrafficCrossed) for e in log.visible_events))
        await until(pilot, lambda: len(log.visible_events) == 6)  # the journal, the crossing

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.fixture
def look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session looks at the journal and the locks every 5 s; here more often, so
    the rollout's line shows without waiting."""
    monkeypatch.setattr("backends.engine.feed.ATTENTION_EVERY", 0.1)


def rolling_fleet(clock: ManualClock) -> SyntheticBackend:
    """g1 live, g2 on its way out; request counters grow with the frozen clock, so the
    evidence on screen is the same on every run."""
    backend = SyntheticBackend(clock=clock)
    backend.traffic_clock = lambda: clock().timestamp()
    backend.add_generation("v1", 6, weight=100, age=timedelta(hours=2), note="baseline")
    backend.add_generation("v2", 6, age=timedelta(minutes=3), note="faster login")
    backend.set_traffic("g1", 41, 0.001, 18, history=STEADY)
    backend.set_traffic("g2", 12, 0.002, 19, history=[(4.0, 0.0)] * 12 + [(12.0, 0.002)] * 6)
    return backend


DRIVEN = "↠ rollout of g2 against g1: running, step 2/4 (25%) — driven by bob (laptop pid 4242)"


def rollout_at(seconds: int, backend: SyntheticBackend, clock: ManualClock, *shown: str):
    """A rollout driven by bob, ``seconds`` into its second step's bake, then shown (the
    attention line names it, and bob's laptop: the same on every machine)."""

    async def run_before(pilot: Pilot[None]) -> None:
        screen = await ready(pilot)
        await backend.rollout_elsewhere("g2", "g1", steps=2, plan=Plan(), by="bob", slow_ms=30)
        driver = backend.leases[ROLLOUT_LOCK]
        backend.leases[ROLLOUT_LOCK] = replace(driver, host="laptop pid 4242")
        clock.advance(seconds)
        backend.set_traffic("g2", 12, 0.002, 19)  # a read: the counters, grown
        column = screen.query_one(GenerationStrip).column("g2")
        assert column is not None
        await until(pilot, lambda: all(part in text_of(column) for part in shown))
        await until(pilot, lambda: len(screen.query_one(EventLog).visible_events) == 5)
        bar = screen.query_one(AttentionBar)
        await until(pilot, lambda: bar.display and text_of(bar).strip() == DRIVEN)

    return run_before


def test_a_rollout_in_progress(
    snap_compare: SnapCompare, clock: ManualClock, look_often: None
) -> None:
    """19 s into the bake: health passed, 5xx and slow requests pending, and what they need."""
    backend = rolling_fleet(clock)
    app = make_app(backend, clock)
    run_before = rollout_at(19, backend, clock, "rollout 2/4 · 25% · bake 0:41", "… 5xx", "ETA")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_a_rollout_holding_for_evidence(
    snap_compare: SnapCompare, clock: ManualClock, look_often: None
) -> None:
    """Past the bake: slow requests shown within their margin, 5xx holding for evidence
    (its deadline fixed at three bakes), with how many more requests and how long."""
    backend = rolling_fleet(clock)
    app = make_app(backend, clock)
    run_before = rollout_at(75, backend, clock, "◷ 5xx", "holding 1:45", "✓ slow", "ETA")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_a_note_with_markup_and_an_emoji_shows_literally(
    snap_compare: SnapCompare, clock: ManualClock
) -> None:
    backend = fleet_with_note(clock)
    app = make_app(backend, clock)

    async def run_before(pilot: Pilot[None]) -> None:
        screen = await ready(pilot)
        column = screen.query_one(GenerationStrip).column("g2")
        assert column is not None and column.generation.note == NOTE
        await until(pilot, lambda: len(screen.query_one(EventLog).visible_events) == 1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
