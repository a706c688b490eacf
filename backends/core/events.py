"""What happens to a fleet, as typed events: one small frozen dataclass per kind of
happening, carrying the fields the UI renders. ``text()`` is for people; no code ever
parses it back.

Every event has a JSON form (``to_json``, read back by
:func:`backends.core.event_json.event_from_json`): the local agent streams them to Molt
that way, and ``molt watch --json`` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from backends.core.journal import JournalRecord, Outcome
from backends.core.model import FleetSnapshot, GenerationState, Health, iso, utcnow


class EventKind(StrEnum):
    HEALTH = "health"  # an instance's health changed
    STATE = "state"  # a generation's state changed (launched, live, draining, retired...)
    WEIGHTS = "weights"  # the fleet's weights changed
    ACTION = "action"  # an operator's action, from the journal
    ERROR = "error"  # the driver could not read (part of) the fleet, or can again
    DIFFERENCE = "difference"  # the world differs from what Molt set: reported, not repaired
    SNAPSHOT = "snapshot"  # a polled driver's fresh read, handed to watchers
    TRAFFIC = "traffic"  # a generation started (or stopped) doing worse than its baseline


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened to ``fleet`` at ``at``."""

    kind: ClassVar[EventKind]
    fleet: str
    at: datetime = field(default_factory=utcnow)

    @property
    def generation(self) -> str | None:
        """The generation the event is about, if one."""
        return None

    @property
    def instance(self) -> str | None:
        return None

    @property
    def operator(self) -> str | None:
        return None

    def concerns(self, generation: str) -> bool:
        """Is this event about ``generation`` (its own, or a change of its weight)?"""
        return self.generation == generation

    def text(self) -> str:
        """One line for people."""
        raise NotImplementedError

    def _fields(self) -> dict[str, Any]:
        return {}

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "at": iso(self.at, precise=True),
            "fleet": self.fleet,
            **self._fields(),
            "text": self.text(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceEvent(Event):
    """Something that happened to one instance of one generation."""

    kind: ClassVar[EventKind] = EventKind.HEALTH
    generation_id: str
    instance_id: str

    @property
    def generation(self) -> str | None:
        return self.generation_id

    @property
    def instance(self) -> str | None:
        return self.instance_id

    def _fields(self) -> dict[str, Any]:
        return {"generation": self.generation_id, "instance": self.instance_id}


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthChanged(InstanceEvent):
    """An instance's health moved ``before`` → ``after``; ``check`` is the result that
    decided it (``GET /healthz → 500 (2/2 failed)``)."""

    before: Health | None
    after: Health
    check: str = ""

    def text(self) -> str:
        if self.before is None:
            moved = f"{self.instance_id} appeared ({self.after.value})"
        elif self.after is Health.GONE:
            moved = f"{self.instance_id} gone"
        else:
            moved = f"{self.instance_id} {self.before.value} → {self.after.value}"
        return f"{moved}  {self.check}" if self.check else moved

    def _fields(self) -> dict[str, Any]:
        return {
            **InstanceEvent._fields(self),
            "before": self.before.value if self.before else None,
            "after": self.after.value,
            "check": self.check,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRestarted(InstanceEvent):
    """The supervisor found an instance's process gone and started it again (or could
    not: ``pid`` is None and ``problem`` says why)."""

    how: str  # "exited with code 1", "is no longer running"
    pid: int | None = None
    problem: str = ""

    def text(self) -> str:
        if self.pid is None:
            return f"{self.instance_id} {self.how}; restart failed: {self.problem}"
        return f"{self.instance_id} {self.how}; restarted from the frozen tree (pid {self.pid})"

    def _fields(self) -> dict[str, Any]:
        return {
            **InstanceEvent._fields(self),
            "how": self.how,
            "pid": self.pid,
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(Event):
    """A generation's state moved ``before`` → ``after`` (``before`` None: it appeared,
    e.g. launched). ``detail``: what goes with it (``v2 × 3``, a drain timeout...)."""

    kind: ClassVar[EventKind] = EventKind.STATE
    generation_id: str
    before: GenerationState | None
    after: GenerationState
    detail: str = ""
    by: str | None = None

    @property
    def generation(self) -> str | None:
        return self.generation_id

    @property
    def operator(self) -> str | None:
        return self.by

    def text(self) -> str:
        g = self.generation_id
        if self.before is None:
            words = f"{g} launched"
        elif self.after is GenerationState.RETIRED:
            words = f"{g} retired"
        else:
            words = f"{g} {self.before.value} → {self.after.value}"
        return f"{words}: {self.detail}" if self.detail else words

    def _fields(self) -> dict[str, Any]:
        return {
            "generation": self.generation_id,
            "before": self.before.value if self.before else None,
            "after": self.after.value,
            "detail": self.detail,
            "by": self.by,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsChanged(Event):
    """The fleet's weights moved ``before`` → ``after`` (complete maps)."""

    kind: ClassVar[EventKind] = EventKind.WEIGHTS
    before: Mapping[str, int]
    after: Mapping[str, int]

    def concerns(self, generation: str) -> bool:
        return self.before.get(generation, 0) != self.after.get(generation, 0)

    def text(self) -> str:
        shown = " ".join(f"{g}={w}" for g, w in self.after.items())
        was = "/".join(str(w) for w in self.before.values())
        return f"weights {shown}" + (f" (was {was})" if was else "")

    def _fields(self) -> dict[str, Any]:
        return {"before": dict(self.before), "after": dict(self.after)}


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorAction(Event):
    """An operator's action as the journal recorded it (its outcome included)."""

    kind: ClassVar[EventKind] = EventKind.ACTION
    record: JournalRecord

    @property
    def generation(self) -> str | None:
        value = self.record.args.get("generation")
        return str(value) if value else None

    @property
    def operator(self) -> str | None:
        return self.record.operator

    def concerns(self, generation: str) -> bool:
        record = self.record
        if self.generation == generation or generation in (record.args.get("weights") or {}):
            return True
        before, after = record.weights_before, record.weights_after
        return before.get(generation, 0) != after.get(generation, 0)

    def text(self) -> str:
        summary = self.record.summary()
        words = summary if self.record.by_judge else f"{self.record.operator} {summary}"
        if self.record.outcome is Outcome.STARTED:  # still running, or Molt died half-way
            words += " — started, no outcome yet"
        return words

    def _fields(self) -> dict[str, Any]:
        return {"record": self.record.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadError(Event):
    """The driver could not read the fleet (or one ``source`` of it, e.g. a host);
    ``cleared``: it can again."""

    kind: ClassVar[EventKind] = EventKind.ERROR
    title: str
    message: str
    source: str = ""
    cleared: bool = False

    def text(self) -> str:
        where = f"{self.source}: " if self.source else ""
        if self.cleared:
            return f"{where}{self.message}"
        return f"{where}{self.title}: {self.message}"

    def _fields(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "message": self.message,
            "source": self.source,
            "cleared": self.cleared,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DifferenceFound(Event):
    """The world differs from what Molt set (HAProxy after a reload, settings changed in
    molt.toml): reported, never put back by a look — ``molt apply`` does that, locked
    and journaled. ``repaired``: kept for records and streams written before."""

    kind: ClassVar[EventKind] = EventKind.DIFFERENCE
    what: str
    repaired: bool = False

    def text(self) -> str:
        return self.what

    def _fields(self) -> dict[str, Any]:
        return {"what": self.what, "repaired": self.repaired}


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotTaken(Event):
    """A fresh read a polled driver made anyway: watchers need not read again."""

    kind: ClassVar[EventKind] = EventKind.SNAPSHOT
    snapshot: FleetSnapshot

    def text(self) -> str:
        return f"read {len(self.snapshot.generations)} generations"

    def _fields(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficCrossed(Event):
    """``generation_id`` started doing worse than its baseline on real requests
    (``worse``), or stopped. ``findings`` reads like ``5xx 31% vs 0.1% on g1``."""

    kind: ClassVar[EventKind] = EventKind.TRAFFIC
    generation_id: str
    baseline: str
    worse: bool
    findings: tuple[str, ...] = ()

    @property
    def generation(self) -> str | None:
        return self.generation_id

    def text(self) -> str:
        if self.worse:
            return f"{self.generation_id} does worse than {self.baseline}: " + "; ".join(
                self.findings
            )
        return f"{self.generation_id} no longer does worse than {self.baseline}"

    def _fields(self) -> dict[str, Any]:
        return {
            "generation": self.generation_id,
            "baseline": self.baseline,
            "worse": self.worse,
            "findings": list(self.findings),
        }


#: how a transition of one generation's state reads (for drivers that publish them)
def launched(fleet: str, generation: str, version: str, count: int, note: str, by: str) -> Event:
    detail = f"{version} × {count}" + (f" — {note}" if note else "")
    return StateChanged(
        fleet=fleet,
        generation_id=generation,
        before=None,
        after=GenerationState.LAUNCHING,
        detail=detail,
        by=by or None,
    )
