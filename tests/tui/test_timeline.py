"""``t``: actions, health incidents and traffic changes in time order, filterable."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Static

from backends.core.events import HealthChanged, WeightsChanged
from backends.core.journal import JournalRecord, Outcome
from backends.core.model import Health
from backends.core.report import MomentKind, timeline
from tests.support.synthetic import FROZEN
from tests.tui.conftest import SIZE, fleet_screen, make_app, ready, text_of, until
from tests.tui.fleets import health_story
from tui.screens.fleet import FleetScreen
from tui.screens.timeline import TimelineScreen, TimelineView


async def open_timeline(pilot) -> TimelineView:
    await ready(pilot)
    await pilot.press("t")
    await until(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen))
    view = pilot.app.screen.query_one(TimelineView)
    await until(pilot, lambda: len(view.visible_moments) >= 5)  # the journal is read
    return view


async def test_the_timeline_shows_the_actions_in_time_order(backend, clock):
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        view = await open_timeline(pilot)
        shown = text_of(view)
        lines = [line.strip() for line in shown.splitlines() if line.strip()]
        assert [" ".join(line.split("» ", 1)[1].split()) for line in lines] == [
            "g1 bob launch v1 ×6 → g1 “baseline”",
            "g1 bob promote g1 (was 0)",
            "g2 alice launch v2 ×6 → g2 “faster login”",
            "alice shift g1=70 g2=30 (was 100/0)",  # two generations: named in the text
            "g3 alice launch v3 ×4 → g3 “new cache layer”",
        ]
        assert lines[0].startswith("11-26 12:02:11")
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, FleetScreen)


async def test_health_incidents_join_the_timeline_as_they_happen(backend, clock):
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        view = await open_timeline(pilot)
        health_story(backend, clock)  # g2-5 comes up (routine), g3-4 fails its checks
        await until(pilot, lambda: "g3-4 pending → unhealthy" in text_of(view))
        last = text_of(view).strip().splitlines()[-1]
        assert "✖ g3" in last and "GET /healthz → 500 (2/2 failed)" in last
        assert "g2-5" not in text_of(view)  # pending → healthy is no incident


async def test_incidents_seen_before_it_opened_are_on_it(backend, clock):
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        health_story(backend, clock)
        await until(pilot, lambda: any(e.instance == "g3-4" for e in screen.incident.noteworthy))
        view = await open_timeline(pilot)
        assert "g3-4 pending → unhealthy" in text_of(view)
        title = text_of(pilot.app.screen.query_one("#timeline-title", Static))
        assert "6 moments" in title and "health and traffic seen since 11-26 14:02:11" in title


async def test_typing_filters_the_timeline(backend, clock):
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        view = await open_timeline(pilot)
        await pilot.press("slash", *"bob")
        await until(pilot, lambda: len(view.visible_moments) == 2)
        assert all(m.who == "bob" for m in view.visible_moments)
        title = text_of(pilot.app.screen.query_one("#timeline-title", Static))
        assert "2 of 5" in title

        await pilot.press("backspace", "backspace", "backspace", *"g2")
        await until(pilot, lambda: len(view.visible_moments) == 2)
        assert [m.text for m in view.visible_moments] == [
            "launch v2 ×6 → g2 “faster login”",
            "shift g1=70 g2=30 (was 100/0)",  # the shift moved g2's weight
        ]
        await pilot.press("escape")  # clears the filter, stays on the timeline
        await until(pilot, lambda: len(view.visible_moments) == 5)
        assert isinstance(pilot.app.screen, TimelineScreen)
        await pilot.press("escape")
        assert pilot.app.screen is fleet_screen(pilot)


async def test_the_timeline_is_there_in_read_only_mode(backend, clock):
    async with make_app(backend, clock, read_only=True).run_test(size=SIZE) as pilot:
        view = await open_timeline(pilot)
        assert "bob promote g1" in text_of(view)


# the merge itself (backends.core.report.timeline: pure, no Textual) ----------------------------
def test_a_shift_shows_once_as_the_action_and_drift_as_an_alarm():
    shift = JournalRecord(
        fleet="web",
        action="shift",
        operator="alice",
        args={"weights": {"g1": 50, "g2": 50}},
        weights_before={"g1": 100, "g2": 0},
        weights_after={"g1": 50, "g2": 50},
        outcome=Outcome.OK,
        at=FROZEN,
    )
    drift = JournalRecord(
        fleet="web",
        action="verify",
        operator="alice",
        outcome=Outcome.OK,
        args={"generation": "g2", "drift": ["10.0.2.1: changed app.py"]},
        at=FROZEN + timedelta(seconds=30),
    )
    later = FROZEN + timedelta(seconds=10)
    events = [
        WeightsChanged(
            fleet="web", at=FROZEN, before={"g1": 100, "g2": 0}, after=shift.weights_after
        ),
        WeightsChanged(
            fleet="web", at=later, before={"g1": 50, "g2": 50}, after={"g1": 0, "g2": 100}
        ),
        HealthChanged(
            fleet="web",
            at=later,
            generation_id="g2",
            instance_id="g2-1",
            before=Health.UNHEALTHY,
            after=Health.HEALTHY,
        ),
    ]
    moments = timeline([drift, shift], events)
    assert [(m.kind, m.text) for m in moments] == [
        (MomentKind.ACTION, "shift g1=50 g2=50 (was 100/0)"),
        (MomentKind.TRAFFIC, "weights g1=0 g2=100 (was 50/50)"),  # made outside Molt
        (MomentKind.HEALTH, "g2-1 recovered: unhealthy → healthy"),
        (MomentKind.DRIFT, "drift in g2: 10.0.2.1: changed app.py"),
    ]
    assert [m.alarm for m in moments] == [False, False, False, True]
    assert set(moments[0].generations) == {"g1", "g2"}  # `g1` and `g2` both find the shift
