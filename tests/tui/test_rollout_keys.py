"""Rollouts from the fleet view: ``R`` asks (steps and limits) and starts one, ``space``
pauses and resumes it, ``A`` aborts it after asking, ``b`` during one aborts it — and a
rollout driven from elsewhere shows in its generation's column all the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot

from backends.config.fleet_config import FleetConfig
from backends.core.locking import ROLLOUT_LOCK
from backends.core.rollout import Plan
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, told, until
from tui.app import MoltApp
from tui.modals.confirm import ConfirmationModal
from tui.widgets.event_log import EventLog
from tui.widgets.generations import GenerationStrip
from tui.widgets.status import StatusLine

CHECKS = "✓ health"  # then the evidence, which grows with real requests
WAIT = 20.0  # seconds: a deadline, never a sleep


@pytest.fixture(autouse=True)
def look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session looks at the journal and the locks every 5 s (and after each action);
    here more often, so a driver that died shows at once."""
    monkeypatch.setattr("backends.engine.feed.ATTENTION_EVERY", 0.1)


@pytest.fixture
def backend(clock: ManualClock) -> SyntheticBackend:
    """g1 carries everything and does fine; g2 (selected at start) is ready to roll out."""
    fleet = SyntheticBackend(clock=clock)
    fleet.add_generation("v1", 3, weight=100)
    fleet.add_generation("v2", 3)
    fleet.set_traffic("g1", 41, 0.001, 18)
    fleet.set_traffic("g2", 5, 0.001, 19)
    return fleet


def column(pilot: Pilot[None], generation: str) -> str:
    shown = pilot.app.screen.query_one(GenerationStrip).column(generation)
    assert shown is not None, f"no column for {generation}"
    return text_of(shown)


def shows(pilot: Pilot[None], *parts: str) -> bool:
    """Every part in g2's column (a rollout's line wraps between its pieces)."""
    shown = column(pilot, "g2")
    return all(part in shown for part in parts)


def asked(app: App[None]) -> str:
    assert isinstance(app.screen, ConfirmationModal)
    return f"{app.screen.title_text}\n{app.screen.query_one('#confirm-body').render()}"


def rollout_events(backend: SyntheticBackend) -> list[str]:
    records = backend.memory.since_seeded()
    return [f"{r.operator} {r.args['event']}" for r in records if r.action == "rollout"]


async def start_rollout(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("R", "y")
    await until(pilot, lambda: shows(pilot, "rollout 1/4 · 10% · bake 1:00", CHECKS), timeout=WAIT)


async def test_R_shows_the_steps_and_limits_and_starts_only_when_confirmed(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("R")
        question = asked(app)
        assert question.startswith("Roll out g2?")
        assert "steps 10 → 25 → 50 → 100%, bake 60 s each" in question
        assert "aborts on evidence of 5xx over the baseline's + 0.5%" in question
        assert "chance of sending a good release back ≤ 1.0%" in question
        assert "First step: g1 100% → 90%   g2 0% → 10%" in question
        await pilot.press("n")
        assert backend.memory.since_seeded() == []

        await start_rollout(pilot)
        assert rollout_events(backend) == ["alice start"]
        assert {g: x.weight for g, x in backend.generations.items()} == {"g1": 90, "g2": 10}
        assert "baseline · rollout of g2" in column(pilot, "g1")
        assert "rolling out g2" in app.screen.query_one(StatusLine).activity


async def test_a_rollout_that_passes_its_checks_walks_to_100(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    fleet = FleetConfig("web", "synthetic", None, rollout=Plan(steps=(50, 100), bake=1))
    backend.set_traffic("g2", 5000, 0.0, 19)  # enough requests to show it within a bake
    app = MoltApp(
        [fleet],
        state_dir=Path("/nonexistent-molt-state"),
        opener=lambda _fleet, _dir, *, read_only: backend.open_as(read_only=read_only),
        clock=clock,
    )
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("R", "y")
        await until(pilot, lambda: "Done: rollout of g2 done: g2 at 100%" in said, timeout=WAIT)
        assert backend.generations["g2"].weight == 100
        assert rollout_events(backend) == ["alice start", "alice done"]
        await until(pilot, lambda: "rollout 2/2 · 100% · DONE" in column(pilot, "g2"), timeout=WAIT)


async def test_a_rollout_that_fails_a_check_goes_back_to_the_baseline_and_says_why(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await start_rollout(pilot)
        backend.set_traffic("g2", 5, 0.31, 19)  # the new version starts failing requests
        await until(pilot, lambda: backend.generations["g2"].weight == 0, timeout=WAIT)
        await until(pilot, lambda: "ABORTED" in column(pilot, "g2"), timeout=WAIT)
        shown = " ".join(line.strip("┃ ") for line in column(pilot, "g2").splitlines())
        assert "g2 5xx " in shown and "vs 0.1% on g1, shown" in shown
        assert re.search(r"over the (0.5-point margin|1.0% ceiling) at step 10%", shown)
        log = pilot.app.screen.query_one(EventLog)  # said as the judge's, not alice's
        await until(
            pilot,
            lambda: "» rollout judge aborted g2 (started by alice) — g2 5xx" in text_of(log),
            timeout=WAIT,
        )
        await until(pilot, lambda: any("Rollout aborted: g2 5xx " in n for n in said), timeout=WAIT)
        assert rollout_events(backend) == ["alice start", "alice abort"]


async def test_space_pauses_and_resumes_the_rollout(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await start_rollout(pilot)
        await pilot.press("space")
        await until(pilot, lambda: shows(pilot, "rollout 1/4 · 10% · PAUSED", CHECKS), timeout=WAIT)
        assert "paused by alice" in column(pilot, "g2")
        await pilot.press("space")
        await until(
            pilot, lambda: "rollout 1/4 · 10% · bake 1:00" in column(pilot, "g2"), timeout=WAIT
        )
        assert rollout_events(backend) == ["alice start", "alice pause", "alice resume"]
        assert backend.generations["g2"].weight == 10  # pausing keeps the weights
        await until(pilot, lambda: "Done: rollout of g2 resumed" in said, timeout=WAIT)
        assert said.count("Done: rollout of g2 paused") == 1  # the pause, said once


async def test_A_asks_then_aborts_all_traffic_back_to_the_baseline(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await start_rollout(pilot)
        await pilot.press("A")
        question = asked(app)
        assert question.startswith("Abort the rollout of g2?")
        assert "g1 90% → 100%   g2 10% → 0%" in question
        await pilot.press("n")
        assert rollout_events(backend) == ["alice start"]
        await pilot.press("A", "y")
        await until(
            pilot, lambda: "rollout 1/4 · 10% · ABORTED" in column(pilot, "g2"), timeout=WAIT
        )
        assert backend.generations["g2"].weight == 0
        await until(
            pilot, lambda: "Done: rollout of g2 aborted: all traffic on g1" in said, timeout=WAIT
        )
        await until(
            pilot, lambda: not app.sessions["web"].in_flight, timeout=WAIT
        )  # the driver stopped
        assert not any(n.startswith("Rollout aborted") for n in said)  # no echo


async def test_b_during_a_rollout_aborts_it_in_one_step(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        await start_rollout(pilot)
        await pilot.press("b")
        assert asked(app).startswith("Roll back: abort the rollout of g2?")
        await pilot.press("y")
        await until(pilot, lambda: "rolled back by alice" in column(pilot, "g2"), timeout=WAIT)
        assert backend.generations["g1"].weight == 100
        actions = [r.action for r in backend.memory.since_seeded()]
        assert "rollback" not in actions and rollout_events(backend)[-1] == "alice abort"


async def test_a_rollout_driven_elsewhere_shows_in_its_column_and_obeys_the_keys(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await backend.rollout_elsewhere("g2", "g1", steps=2, plan=Plan(), by="bob")
        clock.advance(19)  # 19 s into the second step's bake
        await until(
            pilot, lambda: shows(pilot, "rollout 2/4 · 25% · bake 0:41", CHECKS), timeout=WAIT
        )
        assert "baseline · rollout of g2" in column(pilot, "g1")
        await pilot.press("space")  # bob's driver reads the pause from the journal
        await until(pilot, lambda: "paused by alice" in column(pilot, "g2"), timeout=WAIT)
        await pilot.press("A", "y")
        await until(pilot, lambda: backend.generations["g1"].weight == 100, timeout=WAIT)
        assert rollout_events(backend) == ["bob start", "alice pause", "alice abort"]


async def test_a_rollout_whose_driver_died_shows_interrupted_and_space_drives_it_on(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await backend.rollout_elsewhere("g2", "g1", steps=1, plan=Plan(), by="bob")
        del backend.leases[ROLLOUT_LOCK]  # bob's terminal closed mid-rollout
        await until(
            pilot, lambda: "rollout 1/4 · 10% · INTERRUPTED" in column(pilot, "g2"), timeout=WAIT
        )
        assert "the process driving it stopped" in column(pilot, "g2")
        await pilot.press("R")  # not a second rollout: this one first
        assert any("space drives it on from here" in n for n in said)
        await pilot.press("space")
        await until(
            pilot, lambda: "rollout 1/4 · 10% · bake 1:00" in column(pilot, "g2"), timeout=WAIT
        )
        assert backend.leases[ROLLOUT_LOCK].holder == "alice"  # this Molt drives it now


async def test_read_only_refuses_the_rollout_keys_and_says_so(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    app = make_app(backend, clock, read_only=True)
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("R", "A")
        assert not isinstance(app.screen, ConfirmationModal)
        assert any("read-only mode: rollout is not allowed" in n for n in said)
        assert any("read-only mode: abort the rollout is not allowed" in n for n in said)
        assert backend.memory.writes == []
