"""The rollout judge as a pure function of (plan, counts, time): no backend, no sleeps —
the clock is a number the test passes."""

from __future__ import annotations

import random

import pytest

from backends.core import evidence
from backends.core.evidence import Counts
from backends.core.rollout import Plan
from backends.core.rollout_judge import Action, CheckState, Facts, Risks, Sides, decide

PLAN = Plan()  # steps 10 → 25 → 50 → 100, bake 60 s, margins 1% / +0.5 points


def facts(
    canary: Counts,
    baseline: Counts,
    *,
    slow: Sides | None = None,
    healthy: int = 2,
    rps: float | None = 12.0,
) -> Facts:
    return Facts("g2", "g1", 1, 10, 0.0, healthy, 2, Sides(canary, baseline), slow, 30.0, rps)


def states(decision) -> dict[str, CheckState]:
    return {c.measure: c.state for c in decision.checks}


def test_a_version_failing_30_percent_aborts_on_its_first_20_requests():
    """At 100 req/s a 10% step sends it 10 a second: two seconds of traffic."""
    assert decide(PLAN, facts(Counts(10, 3), Counts(3000, 3)), now=1).action is Action.WAIT
    decision = decide(PLAN, facts(Counts(20, 6), Counts(3000, 3)), now=2)
    assert decision.action is Action.ABORT
    assert decision.reason == (
        "g2 5xx 30% (6/20) vs 0.1% on g1, shown over the 0.5-point margin at step 10%"
    )


def test_few_requests_never_let_a_failing_version_through():
    """``min_requests = 5`` used to pass a version answering 60% 5xx on 10 requests."""
    plan = Plan(min_requests=5)
    decision = decide(plan, facts(Counts(10, 6), Counts(3000, 0)), now=61)
    assert decision.action is Action.ABORT


def test_no_traffic_never_passes_a_step_and_ends_inconclusive_saying_what_it_needs():
    plan = Plan(min_requests=0)
    quiet = facts(Counts(0, 0), Counts(0, 0), rps=0.0)
    assert decide(plan, quiet, now=61).action is Action.WAIT  # bake over: holding
    assert states(decide(plan, quiet, now=61))["5xx"] is CheckState.HOLDING
    ended = decide(plan, quiet, now=180)  # 3 × the bake: the fixed deadline
    assert ended.action is Action.INCONCLUSIVE
    assert ended.reason.startswith("g2 could not show 5xx within the margins at step 10% in 3:00")
    assert "needs ~" in ended.reason and "no requests arriving" in ended.reason


def test_checks_are_pending_until_judged_never_passed_on_nothing():
    decision = decide(PLAN, facts(Counts(0, 0), Counts(900, 0)), now=0.5)
    assert states(decision) == {"health": CheckState.PASSED, "5xx": CheckState.PENDING}
    assert "✓ 5xx" not in decision.text() and "… 5xx 0/0" in decision.text()


def test_a_step_passes_only_once_baked_and_shown_within_the_margin():
    clean = facts(Counts(1500, 0), Counts(15000, 0))
    assert decide(PLAN, clean, now=30).action is Action.WAIT  # shown, but still baking
    assert decide(PLAN, clean, now=60).action is Action.PASS
    thin = facts(Counts(300, 0), Counts(3000, 0))  # not yet enough to show ≤ +0.5 points
    held = decide(PLAN, thin, now=61)
    assert held.action is Action.WAIT and states(held)["5xx"] is CheckState.HOLDING
    assert held.eta.startswith("needs ~") and "ETA" in held.eta and "12 req/s" in held.eta
    assert held.deadline == 180  # fixed: began + 3 × bake, however often it looks
    assert decide(PLAN, thin, now=150).deadline == 180


def test_an_unhealthy_instance_aborts_at_once():
    decision = decide(PLAN, facts(Counts(0, 0), Counts(0, 0), healthy=1), now=0)
    assert decision.action is Action.ABORT
    assert decision.reason == "g2 health 1/2 healthy, not every instance healthy at step 10%"


def test_slow_requests_abort_a_release_200_ms_slower():
    slow = Sides(Counts(40, 40), Counts(3000, 20))  # every request over the threshold
    decision = decide(PLAN, facts(Counts(40, 0), Counts(3000, 0), slow=slow), now=4)
    assert decision.action is Action.ABORT
    assert decision.reason.startswith("g2 slow (> 30 ms) 100% (40/40) vs 0.7% on g1")


def test_the_ceiling_aborts_a_version_over_it_and_over_its_baseline():
    """At 0.8% background the margin allows 1.3%, the ceiling 1%: 3% is over both."""
    decision = decide(PLAN, facts(Counts(3000, 90), Counts(27000, 216)), now=30)
    assert decision.action is Action.ABORT
    assert "shown over" in decision.reason


def test_the_budget_is_split_over_steps_measures_and_sides():
    risks = Risks.of(PLAN)
    steps, measures = len(PLAN.steps), 2
    assert risks.canary * steps * measures + risks.baseline * measures == pytest.approx(0.01)


def test_bounds_hold_however_often_they_are_looked_at():
    """Ville's inequality, checked: a rate of 0.5% watched after every request for 20,000
    requests leaves its 1% confidence sequence in far fewer than 1% of 300 runs."""
    rng = random.Random(7)
    misses = 0
    for _ in range(300):
        bad = 0
        for n in range(1, 20001):
            bad += rng.random() < 0.005
            if n % 50 == 0 and (
                evidence.above(Counts(n, bad), 0.005, 0.005)
                or evidence.below(Counts(n, bad), 0.005 - 1e-9, 0.005)
            ):
                misses += 1
                break
    assert misses <= 6
