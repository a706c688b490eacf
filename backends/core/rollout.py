"""Progressive rollouts: a generation walked through weight steps, baking at each, judged
against its baseline by :mod:`backends.core.rollout_judge` on the counts since each step began.

A rollout lives where the fleet's truth does — in the journal and in the rollout lock:

* ``rollout`` records with ``args.event`` ``start`` / ``pause`` / ``resume`` /
  ``inconclusive`` / ``abort`` / ``done`` (who, when, why; the judge's own verdicts carry
  ``judge`` and their evidence), and every step is a journaled ``shift`` carrying
  ``args.rollout``, the evidence that passed the step before and the counters
  (``canary_totals``; the start and each resume: ``baseline_totals``) it is judged from;
* a shift, promote, rollback or retire by anyone else while it runs pauses it: the
  operator's hand wins;
* the process driving the rollout holds the fleet's *rollout* lock (naming the start
  record) for as long as it runs. A rollout that has not ended (nor been found
  inconclusive) and whose driver holds no lock was **interrupted**: the weights stay
  where they are, and anyone's ``--resume`` goes on from them.

So every Molt, anywhere, reads the same rollout (:func:`rollout_state`) and judges it the
same (:func:`step_facts`, :func:`judge_now`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from backends.core.baseline import P99_SLACK_MS
from backends.core.clock import iso
from backends.core.errors import ConfigError
from backends.core.evidence import Counts
from backends.core.journal import JournalRecord, Outcome
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot, Generation, Health
from backends.core.traffic import Totals, percent_text

if TYPE_CHECKING:
    from backends.core.rollout_judge import Decision, Facts


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
    false_abort: float = 0.01  # the chance a rollout sends a good release back

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
        if not 0 < self.false_abort <= 0.2:
            raise ConfigError("rollout.false_abort must be a fraction above 0, at most 0.2")

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "bake": self.bake,
            "max_error_rate": self.max_error_rate,
            "max_error_increase": self.max_error_increase,
            "max_p99_ratio": self.max_p99_ratio,
            "min_requests": self.min_requests,
            "false_abort": self.false_abort,
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
            false_abort=float(data.get("false_abort", 0.01)),
        )

    def describe(self) -> str:
        """``steps 10 → 25 → 50 → 100%, bake 60 s each; aborts on evidence of 5xx over …``"""
        steps = " → ".join(str(s) for s in self.steps)
        return (
            f"steps {steps}%, bake {self.bake:g} s each; aborts on evidence of 5xx over the "
            f"baseline's + {percent_text(self.max_error_increase)} (or over "
            f"{percent_text(self.max_error_rate)} and the baseline's), or of requests slower "
            f"than {self.max_p99_ratio:g}× the baseline's p99 (and {P99_SLACK_MS:g} ms over it "
            "at least); a step passes on evidence of "
            f"no more, on at least {self.min_requests} requests; chance of sending a good "
            f"release back ≤ {percent_text(self.false_abort)}"
        )


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
    started_by: str = ""
    step_since: datetime | None = None  # when the current step's weight was set
    checks: tuple[dict[str, Any], ...] = field(default=())
    #: the counters the judge counts from: the baseline's when the rollout began (or was
    #: driven on), the new generation's when its step began; the slow threshold
    baseline_totals: Totals | None = None
    canary_totals: Totals | None = None
    slow_ms: float | None = None
    #: the baseline's requests and 5xx in the traffic window before the rollout began (or
    #: was driven on): what the judge knows of its error rate from the first tick
    baseline_before: Counts | None = None
    hand: bool = False  # paused by an operator's change, not yet journaled as a pause

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
            "slow_ms": self.slow_ms,
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
        started_by=start.operator,
        baseline_totals=Totals.from_json(args.get("baseline_totals")),
        slow_ms=args.get("slow_ms"),
        baseline_before=_before(args.get("baseline_before")),
    )
    for record in records[records.index(start) + 1 :]:
        if record.outcome is not Outcome.OK:
            continue
        if record.args.get("rollout") == start.id:
            rollout = _advance(rollout, record)
        elif record.action in BY_HAND and rollout.state is RolloutState.RUNNING:
            rollout = _by_hand(rollout, record)
    driven = driver is not None and driver.record == start.id
    if not rollout.ended and not driven and rollout.state is not RolloutState.INCONCLUSIVE:
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
        if "step" not in record.args:  # an abort's shift: the step stays as it was
            return rollout
        fields.update(
            step=int(record.args["step"]),
            step_since=record.at,
            checks=tuple(record.args.get("evidence") or ()),
            canary_totals=Totals.from_json(record.args.get("canary_totals")),
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
            by="the rollout judge" if record.by_judge else record.operator,
            since=record.at,
            hand=False,
        )
        if record.args.get("evidence"):
            fields["checks"] = tuple(record.args["evidence"])
        if event == "resume" and "canary_totals" in record.args:
            # driven on: the step bakes again from here, counting anew
            fields.update(
                step_since=record.at,
                canary_totals=Totals.from_json(record.args.get("canary_totals")),
                baseline_totals=Totals.from_json(record.args.get("baseline_totals")),
                baseline_before=_before(record.args.get("baseline_before")),
            )
    return Rollout(**fields)


#: what an operator does by hand that pauses a running rollout: the hand wins
BY_HAND = ("shift", "promote", "rollback", "retire")


def _by_hand(rollout: Rollout, record: JournalRecord) -> Rollout:
    """``root shifted by hand``: the rollout is paused, and never overwrites it."""
    done = {
        "shift": "shifted",
        "promote": "promoted",
        "rollback": "rolled back",
        "retire": "retired",
    }[record.action]
    what = record.args.get("generation")
    return Rollout(
        **{
            **_fields(rollout),
            "state": RolloutState.PAUSED,
            "reason": f"{record.operator} {done}{f' {what}' if what else ''} by hand",
            "by": record.operator,
            "since": record.at,
            "hand": True,
        }
    )


def step_facts(
    rollout: Rollout, snapshot: FleetSnapshot, began: float | None = None
) -> Facts | None:
    """What the judge is told of the rollout's current step, from the counters journaled
    when it began and the snapshot's (None before the first step). The driver, the
    columns and ``status --json`` all judge from this, so they cannot disagree.
    ``began``: when the step began on the caller's clock (default: the journal's time of
    the step, in seconds since the epoch)."""
    # the judge is imported once there is a step to judge: reading a fleet with no
    # rollout (``molt status``) never pays for it
    from backends.core.rollout_judge import Facts, Sides

    if rollout.step == 0 or rollout.step_since is None:
        return None
    target = snapshot.generation(rollout.generation)
    base = snapshot.generation(rollout.baseline)
    canary = _since(target, rollout.canary_totals)
    baseline = _since(base, rollout.baseline_totals)
    errors = slow = None
    note = ""
    if canary is not None and baseline is not None:
        base_errors = _counts(baseline, baseline.errors) + (rollout.baseline_before or Counts(0, 0))
        errors = Sides(_counts(canary, canary.errors), base_errors)
        slow_c = canary.slow(rollout.slow_ms) if rollout.slow_ms is not None else None
        slow_b = baseline.slow(rollout.slow_ms) if rollout.slow_ms is not None else None
        if slow_c is not None and slow_b is not None:
            slow = Sides(_counts(canary, slow_c), _counts(baseline, slow_b))
        elif canary.latency is None:
            note = "latency not judged: the traffic source gives no per-request latency"
        else:
            note = "latency not judged: the baseline had no p99 when the rollout began"
    traffic = target.traffic if target is not None else None
    return Facts(
        generation=rollout.generation,
        baseline=rollout.baseline,
        step=rollout.step,
        weight=rollout.weight,
        began=rollout.step_since.timestamp() if began is None else began,
        healthy=sum(1 for i in target.instances if i.health is Health.HEALTHY) if target else 0,
        instances=len(target.instances) if target else 0,
        errors=errors,
        slow=slow,
        slow_ms=rollout.slow_ms,
        rps=traffic.rps if traffic is not None else None,
        latency_note=note,
    )


def _since(generation: Generation | None, anchor: Totals | None) -> Totals | None:
    """A generation's counts since ``anchor`` (None: unknown — gone, or its counters
    started again)."""
    totals = generation.traffic.totals if generation and generation.traffic else None
    if totals is None:
        return Totals(0, 0, ()) if anchor is None and generation is not None else None
    return totals.since(anchor)


def _before(data: Any) -> Counts | None:
    try:
        return Counts(int(data["requests"]), int(data["errors"])) if data else None
    except (KeyError, TypeError, ValueError):
        return None


def window_counts(generation: Generation | None) -> dict[str, int] | None:
    """A generation's requests and 5xx over its traffic window, as a start or resume
    record keeps them (None: nothing known)."""
    traffic = generation.traffic if generation is not None else None
    if traffic is None or not traffic.requests or traffic.error_rate is None:
        return None
    requests = traffic.requests
    return {"requests": requests, "errors": min(requests, round(requests * traffic.error_rate))}


def _counts(totals: Totals, bad: int) -> Counts:
    # HAProxy counts requests it could not deliver as errors without a response
    return Counts(max(totals.requests, bad), bad)


def judge_now(
    rollout: Rollout | None, snapshot: FleetSnapshot | None, now: datetime
) -> Decision | None:
    """The judge's view of the rollout's current step at ``now`` (None: nothing to
    judge) — what the columns and ``status --json`` show."""
    if rollout is None or rollout.ended or snapshot is None:
        return None
    facts = step_facts(rollout, snapshot)
    if facts is None:
        return None
    from backends.core.rollout_judge import decide

    return decide(rollout.plan, facts, now.timestamp())
