"""Progressive rollouts: a generation walked through weight steps, baking at each, judged
against its baseline, aborted at the first failed check.

A rollout lives where the fleet's truth does — in the journal and in the rollout lock:

* ``rollout`` records with ``args.event`` ``start`` / ``pause`` / ``resume`` /
  ``inconclusive`` / ``abort`` / ``done`` (who, when, why), and every step is a journaled
  ``shift`` carrying ``args.rollout`` and the checks that justified it;
* the process driving the rollout holds the fleet's *rollout* lock (naming the start
  record) for as long as it runs. A rollout that has not ended and whose driver holds no
  lock was **interrupted**: the weights stay where they are, and anyone's
  ``--resume`` continues from the current step.

So every Molt, anywhere, reads the same rollout (:func:`rollout_state`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from backends.baseline import Limits
from backends.clock import iso
from backends.errors import ConfigError
from backends.journal import JournalRecord, Outcome
from backends.locking import Lease
from backends.model import FleetSnapshot, Health
from backends.traffic import ms_text, percent_text

EXTEND_AT_MOST = 3  # a step short of requests bakes at most this many bake times


class RolloutState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    INTERRUPTED = "interrupted"
    INCONCLUSIVE = "inconclusive"
    ABORTED = "aborted"
    DONE = "done"


ENDED = frozenset({RolloutState.ABORTED, RolloutState.DONE})


@dataclass(frozen=True, slots=True)
class Plan:
    """``[fleets.NAME.rollout]`` in molt.toml; flags override it."""

    steps: tuple[int, ...] = (10, 25, 50, 100)
    bake: float = 60.0
    max_error_rate: float = 0.01
    max_error_increase: float = 0.005
    max_p99_ratio: float = 1.5
    min_requests: int = 100

    def __post_init__(self) -> None:
        steps = self.steps
        if not steps or any(not 1 <= s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
            raise ConfigError(
                f"rollout.steps must rise from 1 to 100, e.g. [10, 25, 50, 100], not {list(steps)}"
            )
        if steps[-1] != 100:
            raise ConfigError(f"rollout.steps must end at 100, not {steps[-1]}")
        if not 0 <= self.bake <= 24 * 3600:
            raise ConfigError("rollout.bake must be 0 seconds to a day")
        for name in ("max_error_rate", "max_error_increase"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"rollout.{name} must be a fraction 0–1, e.g. 0.01 for 1%")
        if not self.max_p99_ratio >= 1:
            raise ConfigError("rollout.max_p99_ratio must be 1 or more, e.g. 1.5")
        if self.min_requests < 0:
            raise ConfigError("rollout.min_requests must be 0 or more")

    @property
    def limits(self) -> Limits:
        return Limits(
            self.max_error_rate, self.max_error_increase, self.max_p99_ratio, self.min_requests
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "bake": self.bake,
            "max_error_rate": self.max_error_rate,
            "max_error_increase": self.max_error_increase,
            "max_p99_ratio": self.max_p99_ratio,
            "min_requests": self.min_requests,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            steps=tuple(int(s) for s in data["steps"]),
            bake=float(data["bake"]),
            max_error_rate=float(data["max_error_rate"]),
            max_error_increase=float(data["max_error_increase"]),
            max_p99_ratio=float(data["max_p99_ratio"]),
            min_requests=int(data["min_requests"]),
        )

    def describe(self) -> str:
        """``steps 10 → 25 → 50 → 100%, bake 60 s; 5xx ≤ 1% and ≤ baseline + 0.5%, …``"""
        steps = " → ".join(str(s) for s in self.steps)
        return (
            f"steps {steps}%, bake {self.bake:g} s each; 5xx ≤ {percent_text(self.max_error_rate)}"
            f" and ≤ baseline + {percent_text(self.max_error_increase)}; p99 ≤ "
            f"{self.max_p99_ratio:g}× baseline; at least {self.min_requests} requests a step"
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One measure judged at a step: its value, its limit, whether it passed."""

    measure: str  # health, 5xx, p99, requests
    passed: bool
    value: str
    limit: str

    def text(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.measure} {self.value}"

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    checks: tuple[Check, ...]
    enough: bool  # requests enough to pass the step
    failed: Check | None = None  # the first failed check (abort)

    def text(self) -> str:
        return " ".join(c.text() for c in self.checks)

    @property
    def held(self) -> bool:
        """A check is over its limit but not yet a reason to abort (see :class:`SlowTail`):
        the step neither passes nor aborts."""
        return self.failed is None and any(
            not c.passed and c.measure != "requests" for c in self.checks
        )


@dataclass(slots=True)
class SlowTail:
    """A p99 over its limit aborts only once it has stayed over for a whole traffic window.

    One stall of the machine (a GC pause, a busy neighbour, a full disk flushing) makes a
    few requests slow, and they stay in the tail for as long as they stay in the window; a
    release that is really slower is still slower once they have left it. Health and
    errors abort at once: those are what users feel first."""

    since: float | None = None  # when the p99 went over its limit

    def confirm(self, verdict: Verdict, now: float, window_s: float) -> Verdict:
        if verdict.failed is None or verdict.failed.measure != "p99":
            self.since = None
            return verdict
        if self.since is None:
            self.since = now
        if now - self.since >= window_s:
            return verdict
        return replace(verdict, failed=None)

    def text(self, now: float, window_s: float) -> str:
        if self.since is None:
            return ""
        over = now - self.since
        return f" · p99 over for {over:.0f} s, aborts if still over at {window_s:.0f} s"


P99_SLACK_MS = 5.0
"""The p99 check's floor: a generation is not slower for less than this over the baseline."""


def judge(
    snapshot: FleetSnapshot, generation: str, baseline: str, plan: Plan, *, at_least: int = 20
) -> Verdict:
    """Health (every instance healthy), error rate (absolute and over the baseline) and
    p99 (over the baseline) of ``generation``. The error rate can fail on ``at_least``
    requests (a release that fails a third of them is sent back early); p99 only on
    ``plan.min_requests`` (a tail of a few dozen requests is noise), and never by less
    than :data:`P99_SLACK_MS` (1 ms against 0.6 ms is not a slower release). The step
    passes only on ``plan.min_requests``."""
    target, base = snapshot.generation(generation), snapshot.generation(baseline)
    checks: list[Check] = []
    if target is None:
        gone = Check("health", False, f"{generation} is gone", "every instance healthy")
        return Verdict((gone,), False, gone)
    healthy = sum(1 for i in target.instances if i.health is Health.HEALTHY)
    checks.append(
        Check(
            "health",
            bool(target.instances) and healthy == len(target.instances),
            f"{healthy}/{len(target.instances)} healthy",
            "every instance healthy",
        )
    )
    mine = target.traffic
    theirs = base.traffic if base is not None else None
    requests = (mine.requests or 0) if mine else 0
    judged = requests >= at_least
    if mine is not None and mine.error_rate is not None:
        base_rate = theirs.error_rate if theirs and theirs.error_rate is not None else 0.0
        limit = min(plan.max_error_rate, base_rate + plan.max_error_increase)
        passed = not judged or mine.error_rate <= limit
        shown = f"{percent_text(mine.error_rate)} (baseline {baseline} {percent_text(base_rate)})"
        checks.append(Check("5xx", passed, shown, f"max {percent_text(limit)}"))
    if mine is not None and mine.p99_ms is not None and theirs and theirs.p99_ms:
        limit_ms = max(theirs.p99_ms * plan.max_p99_ratio, theirs.p99_ms + P99_SLACK_MS)
        passed = requests < plan.min_requests or mine.p99_ms <= limit_ms
        shown = f"{ms_text(mine.p99_ms)} (baseline {baseline} {ms_text(theirs.p99_ms)})"
        checks.append(Check("p99", passed, shown, f"max {ms_text(limit_ms)}"))
    checks.append(
        Check("requests", requests >= plan.min_requests, str(requests), f"≥ {plan.min_requests}")
    )
    failed = next((c for c in checks if not c.passed and c.measure != "requests"), None)
    return Verdict(tuple(checks), requests >= plan.min_requests, failed)


def abort_reason(generation: str, failed: Check, step: int) -> str:
    """``g3 5xx 31.2% > max 1% (baseline g1 0.1%) at step 10%``"""
    value, _, context = failed.value.partition(" (")
    context = f" ({context}" if context else ""
    if failed.measure == "health":
        return f"{generation} health {value}, not {failed.limit} at step {step}%"
    return f"{generation} {failed.measure} {value} > {failed.limit}{context} at step {step}%"


@dataclass(frozen=True, slots=True)
class Rollout:
    """A rollout as the journal and the rollout lock tell it."""

    id: str  # the start record's id
    generation: str
    baseline: str
    plan: Plan
    step: int  # steps done (0: none yet)
    state: RolloutState
    reason: str
    by: str
    since: datetime  # of the current state
    step_since: datetime | None = None  # when the current step's weight was set
    checks: tuple[dict[str, Any], ...] = field(default=())

    @property
    def weight(self) -> int:
        return self.plan.steps[self.step - 1] if self.step else 0

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "generation": self.generation,
            "baseline": self.baseline,
            "steps": list(self.plan.steps),
            "step": self.step,
            "weight": self.weight,
            "state": self.state.value,
            "reason": self.reason,
            "by": self.by,
            "since": iso(self.since),
            "bake": self.plan.bake,
            "step_since": iso(self.step_since),
        }


def rollout_state(records: list[JournalRecord], driver: Lease | None) -> Rollout | None:
    """The fleet's latest rollout, from its journal and the rollout lock's holder."""
    starts = [r for r in records if r.action == "rollout" and r.args.get("event") == "start"]
    if not starts:
        return None
    start = starts[-1]
    if start.outcome is not Outcome.OK:
        return None
    args = start.args
    rollout = Rollout(
        id=start.id,
        generation=str(args["generation"]),
        baseline=str(args["baseline"]),
        plan=Plan.from_json(dict(args["plan"])),
        step=0,
        state=RolloutState.RUNNING,
        reason="",
        by=start.operator,
        since=start.at,
    )
    for record in records[records.index(start) + 1 :]:
        if record.args.get("rollout") != start.id or record.outcome is not Outcome.OK:
            continue
        rollout = _advance(rollout, record)
    driven = driver is not None and driver.record == start.id
    if not rollout.ended and not driven:
        return Rollout(
            **{
                **_fields(rollout),
                "state": RolloutState.INTERRUPTED,
                "reason": rollout.reason or "the process driving it stopped",
            }
        )
    return rollout


def _fields(rollout: Rollout) -> dict[str, Any]:
    return {name: getattr(rollout, name) for name in Rollout.__dataclass_fields__}


def _advance(rollout: Rollout, record: JournalRecord) -> Rollout:
    fields = _fields(rollout)
    if record.action == "shift":
        fields.update(
            step=int(record.args.get("step", rollout.step)),
            step_since=record.at,
            checks=tuple(record.args.get("checks") or ()),
        )
        return Rollout(**fields)
    event = record.args.get("event")
    states = {
        "pause": RolloutState.PAUSED,
        "inconclusive": RolloutState.INCONCLUSIVE,
        "resume": RolloutState.RUNNING,
        "abort": RolloutState.ABORTED,
        "done": RolloutState.DONE,
    }
    if event in states:
        fields.update(
            state=states[str(event)],
            reason=str(record.args.get("reason") or ""),
            by=record.operator,
            since=record.at,
        )
        if event == "resume":
            fields["step_since"] = record.at  # the step bakes again from here
    return Rollout(**fields)
