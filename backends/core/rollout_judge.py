"""The rollout judge: given the plan, a step's counts so far and the time, what happens
now — wait, pass, abort, or end inconclusive. A pure function with the clock passed in;
the loop in :mod:`backends.engine.rollout_driver` only reads the fleet and acts on the decision.

How it decides (the README's "How the judge decides" says the same to operators):

* **Counts, not snapshots.** For each measure — 5xx answers, and *slow* requests (slower
  than a threshold set from the baseline's p99) where the source sees every request's
  latency — the judge takes the new generation's counts since its step began and the
  baseline's since the rollout began. With a good release both fail the same fraction
  of their requests.
* **Anytime-valid bounds** (:mod:`backends.core.evidence`) on each side's rate give bounds on
  the *increase* (new minus baseline) that hold however often they are looked at.
* **One false-abort budget per rollout.** ``plan.false_abort`` (1%) is split evenly: half
  over the new generation's bounds (every measure at every step), half over the
  baseline's (every measure, once per rollout). A good release is sent back with
  probability at most ``false_abort``, at 1 req/s or 10,000.
* **Margins.** Abort when the increase is shown to exceed its margin
  (``max_error_increase`` for 5xx, one point of slow requests for latency: a p99 over
  ``max_p99_ratio`` × the baseline's), or when the error rate is shown to exceed the
  ceiling ``max_error_rate`` and the baseline's. Pass a step only when its bake has
  elapsed *and* the increase is shown to be within the margin (non-inferiority, at
  :data:`PASS_RISK` per check) on at least ``min_requests`` requests. A step that cannot
  show it by its fixed deadline ends *inconclusive*, saying how many requests it needs.
* **Health** aborts at once: every instance of the new generation must be healthy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from backends.core import evidence
from backends.core.baseline import P99_SLACK_MS
from backends.core.evidence import Counts
from backends.core.traffic import ms_text, percent_text, rate_text

#: a step that has not passed ``bake × EXTEND_AT_MOST`` seconds after it began ends
#: inconclusive (a fixed deadline: it never moves)
EXTEND_AT_MOST = 3
#: measures the false-abort budget is split over
MEASURES = ("5xx", "slow")
#: how much more often than the baseline's a new generation's requests may be slow: one
#: point, since a p99 over the threshold means more than 1% of requests above it
SLOW_MARGIN = 0.01
#: the chance that one check of one step passes a generation really beyond its margin
#: (each later step judges it again, on more traffic)
PASS_RISK = 0.05


class PlanLimits(Protocol):
    """What the judge reads of a rollout's plan (:class:`backends.core.rollout.Plan` is
    one): its steps, the bake of each, the margins and the false-abort budget."""

    @property
    def steps(self) -> tuple[int, ...]: ...
    @property
    def bake(self) -> float: ...
    @property
    def max_error_rate(self) -> float: ...
    @property
    def max_error_increase(self) -> float: ...
    @property
    def max_p99_ratio(self) -> float: ...
    @property
    def min_requests(self) -> int: ...
    @property
    def false_abort(self) -> float: ...


class Action(StrEnum):
    WAIT = "wait"
    PASS = "pass"
    ABORT = "abort"
    INCONCLUSIVE = "inconclusive"


class CheckState(StrEnum):
    PENDING = "pending"  # not judged yet: the bake runs, evidence gathers
    HOLDING = "holding"  # the bake is over, the evidence not yet enough to pass
    PASSED = "passed"
    FAILED = "failed"
    NOT_JUDGED = "not judged"  # the source cannot say (no per-request latency)


#: what a step needs of each check to pass
GOOD = frozenset({CheckState.PASSED, CheckState.NOT_JUDGED})


@dataclass(frozen=True, slots=True)
class Sides:
    """One measure's counts: the new generation's since its step began, the baseline's
    since the rollout began."""

    canary: Counts
    baseline: Counts


@dataclass(frozen=True, slots=True)
class Facts:
    """What the judge is told of a step; everything it decides on."""

    generation: str
    baseline: str
    step: int  # 1-based
    weight: int  # the step's percent
    began: float  # the clock when the step began (or was resumed)
    healthy: int  # instances of the new generation, healthy…
    instances: int  # …of all
    errors: Sides | None  # None: the source counts no requests
    slow: Sides | None  # None: the source sees no per-request latency
    slow_ms: float | None = None  # the slow threshold
    rps: float | None = None  # the new generation's request rate, for the ETA
    latency_note: str = ""  # what the source says of latency when it cannot count slow


@dataclass(frozen=True, slots=True)
class Check:
    """One measure judged: its counts, the bounds on its increase over the baseline, and
    where it stands."""

    measure: str  # health, 5xx, slow
    state: CheckState
    canary: Counts | None = None
    baseline: Counts | None = None
    low: float | None = None  # the increase is at least this…
    high: float | None = None  # …and at most this (abort_at / pass_at compare to them)
    abort_at: float | None = None
    pass_at: float | None = None
    needs: int | None = None  # requests still needed to pass, at the rates seen
    note: str = ""

    def text(self) -> str:
        """``5xx ✓ +0.1 pt [−0.3, +0.4] ≤ 0.5`` — the sign is the state, then the bounds."""
        sign = {"pending": "…", "holding": "◷", "passed": "✓", "failed": "✗", "not judged": "–"}[
            self.state
        ]
        if self.measure == "health" or self.canary is None:
            return f"{sign} {self.measure} {self.note}".rstrip()
        bad = self.canary.bad
        shown = f"{sign} {self.measure} {bad}/{self.canary.requests}"
        if self.baseline is not None and self.baseline.requests:
            shown += f" vs {percent_text(self.baseline.rate)}"
        if self.low is not None and self.high is not None and self.pass_at is not None:
            shown += f" [{_points(self.low)}, {_points(self.high)}] ≤ {_points(self.pass_at)}"
        return shown

    def to_json(self) -> dict[str, Any]:
        def side(counts: Counts | None) -> dict[str, int] | None:
            if counts is None:
                return None
            bad = "errors" if self.measure == "5xx" else "slow"
            return {"requests": counts.requests, bad: counts.bad}

        return {
            "measure": self.measure,
            "state": self.state.value,
            "canary": side(self.canary),
            "baseline": side(self.baseline),
            "statistic": (
                None
                if self.low is None or self.high is None
                else {"increase_low": _round(self.low), "increase_high": _round(self.high)}
            ),
            "abort_at": _round(self.abort_at),
            "pass_at": _round(self.pass_at),
            "needs": self.needs,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    checks: tuple[Check, ...]
    reason: str = ""  # why it aborts or ends inconclusive
    eta: str = ""  # ``needs ~420 more requests · ETA 0:35 at 12 req/s``
    deadline: float = 0.0  # the clock at which a step that has not passed ends inconclusive

    def text(self) -> str:
        return " ".join(c.text() for c in self.checks) + (f" · {self.eta}" if self.eta else "")

    def evidence_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.checks]


@dataclass(frozen=True, slots=True)
class Risks:
    """The false-abort budget split: per bound of the new generation, per bound of the
    baseline."""

    canary: float
    baseline: float

    @classmethod
    def of(cls, plan: PlanLimits) -> Risks:
        share = plan.false_abort / 2 / len(MEASURES)
        return cls(canary=share / len(plan.steps), baseline=share)


def hold_deadline(plan: PlanLimits, began: float) -> float:
    return began + plan.bake * EXTEND_AT_MOST


def slow_threshold(baseline_p99_ms: float, plan: PlanLimits) -> float:
    """A request is slow above this: the baseline's p99 times ``max_p99_ratio``, and at
    least :data:`P99_SLACK_MS` above it."""
    return max(baseline_p99_ms * plan.max_p99_ratio, baseline_p99_ms + P99_SLACK_MS)


def decide(plan: PlanLimits, facts: Facts, now: float) -> Decision:
    """What the rollout does now, from what it has seen of this step."""
    risks = Risks.of(plan)
    health = _health(facts)
    checks = [health]
    if facts.errors is not None:
        checks.append(
            _judge("5xx", facts.errors, plan.max_error_increase, plan, risks, plan.max_error_rate)
        )
    else:
        checks.append(Check("5xx", CheckState.PENDING, note="no request counts yet"))
    if facts.slow is not None:
        checks.append(_judge("slow", facts.slow, SLOW_MARGIN, plan, risks, None))
    elif facts.latency_note:
        checks.append(Check("slow", CheckState.NOT_JUDGED, note=facts.latency_note))
    deadline = hold_deadline(plan, facts.began)
    where = f"at step {facts.weight}%"
    if health.state is CheckState.FAILED:
        return Decision(
            Action.ABORT,
            tuple(checks),
            f"{facts.generation} health {health.note}, not every instance healthy {where}",
            deadline=deadline,
        )
    failed = next((c for c in checks if c.state is CheckState.FAILED), None)
    if failed is not None:
        return Decision(
            Action.ABORT, tuple(checks), _abort_reason(facts, failed, where), deadline=deadline
        )
    baked = now - facts.began >= plan.bake
    if baked and all(c.state in GOOD for c in checks):
        return Decision(Action.PASS, tuple(checks), deadline=deadline)
    if baked:
        checks = [c if c.state in GOOD else replace(c, state=CheckState.HOLDING) for c in checks]
    eta = _eta(checks, facts)
    if now >= deadline:
        missing = [c for c in checks if c.state not in GOOD]
        reason = (
            f"{facts.generation} could not show {', '.join(c.measure for c in missing)} within "
            f"the margins {where} in {_clock(now - facts.began)}" + (f": {eta}" if eta else "")
        )
        return Decision(Action.INCONCLUSIVE, tuple(checks), reason, eta, deadline)
    return Decision(Action.WAIT, tuple(checks), eta=eta, deadline=deadline)


def _health(facts: Facts) -> Check:
    note = f"{facts.healthy}/{facts.instances} healthy"
    ok = facts.instances > 0 and facts.healthy == facts.instances
    return Check("health", CheckState.PASSED if ok else CheckState.FAILED, note=note)


def _judge(
    measure: str, sides: Sides, margin: float, plan: PlanLimits, risks: Risks, ceiling: float | None
) -> Check:
    canary, base = sides.canary, sides.baseline
    base_high = evidence.upper(base, risks.baseline)
    base_low = evidence.lower(base, PASS_RISK / 2)
    abort_at = min(base_high + margin, 1.0)
    harmed = evidence.above(canary, abort_at, risks.canary)
    note = ""
    if ceiling is not None and not harmed:
        harmed = evidence.above(canary, max(ceiling, base_high), risks.canary)
        note = f"over the {percent_text(ceiling)} ceiling" if harmed else ""
    pass_at = base_low + margin
    shown = canary.requests >= plan.min_requests and evidence.below(canary, pass_at, PASS_RISK / 2)
    low = evidence.lower(canary, risks.canary) - base_high
    high = evidence.upper(canary, PASS_RISK / 2) - base_low
    state = CheckState.FAILED if harmed else CheckState.PASSED if shown else CheckState.PENDING
    needs = None
    if state is CheckState.PENDING:
        rate = canary.rate if canary.requests >= 50 else base.rate
        total = evidence.requests_to_show_below(rate or 0.0, pass_at, PASS_RISK / 2)
        if total is not None:
            needs = max(total, plan.min_requests) - canary.requests
    return Check(measure, state, canary, base, low, high, margin, margin, needs, note)


def _eta(checks: list[Check], facts: Facts) -> str:
    """``needs ~420 more requests · ETA 0:35 at 12 req/s`` for the check furthest from
    passing ('' when every check has passed or none can say)."""
    waiting = [c for c in checks if c.state not in GOOD and c.canary is not None]
    if any(c.needs is None for c in waiting):
        return "at the rates seen it cannot show it: the increase is near its margin"
    more = max((c.needs or 0 for c in waiting), default=0)
    if more <= 0:
        return ""
    text = f"needs ~{more} more requests"
    if facts.rps:
        return f"{text} · ETA {_clock(more / facts.rps)} at {rate_text(facts.rps)}"
    return text + " · no requests arriving"


def _abort_reason(facts: Facts, failed: Check, where: str) -> str:
    """``g3 5xx 31% (124/400) vs 0.1% on g1, over the 0.5-point margin at step 10%``"""
    canary, base = failed.canary, failed.baseline
    assert canary is not None and base is not None
    what = "5xx" if failed.measure == "5xx" else f"slow (> {ms_text(facts.slow_ms)})"
    over = failed.note or f"over the {(failed.abort_at or 0.0) * 100:g}-point margin"
    return (
        f"{facts.generation} {what} {percent_text(canary.rate)} ({canary.bad}/{canary.requests})"
        f" vs {percent_text(base.rate or 0.0)} on {facts.baseline}, shown {over} {where}"
    )


def _points(fraction: float) -> str:
    """Percentage points, signed: ``+0.4``, ``−1.2``, ``+31``."""
    value = fraction * 100
    shown = f"{value:+.1f}" if abs(value) < 10 else f"{value:+.0f}"
    return shown.replace("-", "−")


def _round(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else round(value, 6)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
