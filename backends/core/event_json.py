"""Events read back from their JSON form (``Event.to_json``): the local agent streams
them to Molt that way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backends.core.events import (
    DifferenceFound,
    Event,
    EventKind,
    HealthChanged,
    InstanceRestarted,
    OperatorAction,
    ReadError,
    SnapshotTaken,
    StateChanged,
    TrafficCrossed,
    WeightsChanged,
)
from backends.core.journal import JournalRecord
from backends.core.model import FleetSnapshot, GenerationState, Health, parse_iso, utcnow


def _health(value: Any) -> Health | None:
    return Health(value) if value else None


def _state(value: Any) -> GenerationState | None:
    return GenerationState(value) if value else None


def event_from_json(data: Mapping[str, Any]) -> Event:
    """The event ``to_json`` wrote (``ValueError`` for anything else)."""
    kind = data.get("kind")
    base: dict[str, Any] = {"fleet": str(data["fleet"]), "at": parse_iso(data["at"]) or utcnow()}
    if kind == EventKind.HEALTH and "after" in data:
        return HealthChanged(
            **base,
            generation_id=str(data["generation"]),
            instance_id=str(data["instance"]),
            before=_health(data.get("before")),
            after=Health(data["after"]),
            check=str(data.get("check", "")),
        )
    if kind == EventKind.HEALTH:
        return InstanceRestarted(
            **base,
            generation_id=str(data["generation"]),
            instance_id=str(data["instance"]),
            how=str(data["how"]),
            pid=data.get("pid"),
            problem=str(data.get("problem", "")),
        )
    if kind == EventKind.STATE:
        after = _state(data["after"])
        assert after is not None
        return StateChanged(
            **base,
            generation_id=str(data["generation"]),
            before=_state(data.get("before")),
            after=after,
            detail=str(data.get("detail", "")),
            by=data.get("by"),
        )
    if kind == EventKind.WEIGHTS:
        return WeightsChanged(**base, before=dict(data["before"]), after=dict(data["after"]))
    if kind == EventKind.ACTION:
        return OperatorAction(**base, record=JournalRecord.from_json(data["record"]))
    if kind == EventKind.ERROR:
        return ReadError(
            **base,
            title=str(data["title"]),
            message=str(data["message"]),
            source=str(data.get("source", "")),
            cleared=bool(data.get("cleared", False)),
        )
    if kind == EventKind.DIFFERENCE:
        return DifferenceFound(**base, what=str(data["what"]), repaired=bool(data["repaired"]))
    if kind == EventKind.TRAFFIC:
        return TrafficCrossed(
            **base,
            generation_id=str(data["generation"]),
            baseline=str(data["baseline"]),
            worse=bool(data["worse"]),
            findings=tuple(data.get("findings") or ()),
        )
    if kind == EventKind.SNAPSHOT:
        return SnapshotTaken(**base, snapshot=FleetSnapshot.from_json(data["snapshot"]))
    raise ValueError(f"not a Molt event: {kind!r}")
