"""Molt's domain objects: frozen, timezone-aware, shared by every driver and the UI.

Drivers map their own states (ASG lifecycle, HAProxy server status, a local
process) onto these enums; anything provider-only goes in ``extra``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from backends.core.clock import iso as iso
from backends.core.clock import parse_iso as parse_iso
from backends.core.clock import utcnow as utcnow
from backends.core.traffic import Traffic

GENERATION_ID = re.compile(r"^g([1-9][0-9]*)$")
#: the one generation Molt did not launch: what already ran behind the load balancer
#: when Molt came (it orders before ``g1``; Molt never launches into it)
EXTERNAL_GENERATION = "g0"
#: its version label, and the ``extra`` key that marks a generation as external
EXTERNAL_VERSION = "external"
EXTERNAL = "external"


def generation_number(generation_id: str) -> int:
    """``g12`` → 12; generations order by number, never by string (the external
    generation ``g0`` is 0)."""
    if generation_id == EXTERNAL_GENERATION:
        return 0
    match = GENERATION_ID.match(generation_id)
    if not match:
        raise ValueError(f"not a generation id: {generation_id!r}")
    return int(match.group(1))


class Health(StrEnum):
    """One instance's health, judged by thresholds over consecutive checks."""

    PENDING = "pending"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    GONE = "gone"


class GenerationState(StrEnum):
    """``launching → healthy | degraded | failed → live → draining → retired``."""

    LAUNCHING = "launching"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILED = "failed"
    LIVE = "live"
    DRAINING = "draining"
    RETIRED = "retired"


class Lifecycle(StrEnum):
    """What a driver records about a generation beyond its instances' health:
    ``launching`` while the launch itself runs (uploads, resources, processes), then
    ``active``, or ``failed`` when the launch could not finish; ``draining`` once a
    retire began, ``retired`` when it ended."""

    LAUNCHING = "launching"
    ACTIVE = "active"
    FAILED = "failed"
    DRAINING = "draining"
    RETIRED = "retired"


def derive_state(healths: list[Health], weight: int, lifecycle: Lifecycle) -> GenerationState:
    """The one state map every driver uses, so ``live`` means the same everywhere."""
    if lifecycle is Lifecycle.RETIRED:
        return GenerationState.RETIRED
    if lifecycle is Lifecycle.DRAINING:
        return GenerationState.DRAINING
    if lifecycle is Lifecycle.FAILED:
        return GenerationState.FAILED
    if lifecycle is Lifecycle.LAUNCHING and weight == 0:
        return GenerationState.LAUNCHING
    if weight > 0:
        return GenerationState.LIVE
    if not healths:
        return GenerationState.LAUNCHING
    counted = [h for h in healths if h is not Health.GONE]
    healthy = counted.count(Health.HEALTHY)
    pending = counted.count(Health.PENDING)
    unhealthy = counted.count(Health.UNHEALTHY)
    if not counted or (healthy == 0 and pending == 0):
        return GenerationState.FAILED
    if unhealthy == 0:
        return GenerationState.HEALTHY if pending == 0 else GenerationState.LAUNCHING
    if healthy == 0:
        return GenerationState.LAUNCHING
    return GenerationState.DEGRADED


@dataclass(frozen=True, slots=True)
class Instance:
    """One running copy: a local process, an EC2 instance, a process on an SSH host."""

    id: str
    address: str
    health: Health
    pid: int | None = None
    host: str = ""
    last_check: str = ""
    latency_ms: float | None = None
    healthy_since: datetime | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    #: what real requests to this instance saw (None: nothing known, or not per instance)
    traffic: Traffic | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "address": self.address,
            "health": self.health.value,
            "pid": self.pid,
        }
        if self.host:
            data["host"] = self.host
        data["last_check"] = self.last_check
        data["latency_ms"] = self.latency_ms
        data["healthy_since"] = iso(self.healthy_since)
        data["traffic"] = self.traffic.to_json() if self.traffic is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Instance:
        return cls(
            id=data["id"],
            address=data["address"],
            health=Health(data["health"]),
            pid=data.get("pid"),
            host=data.get("host", ""),
            last_check=data.get("last_check", ""),
            latency_ms=data.get("latency_ms"),
            healthy_since=parse_iso(data.get("healthy_since")),
            traffic=Traffic.from_json(data.get("traffic")),
        )


@dataclass(frozen=True, slots=True)
class Generation:
    """Instances launched together from one frozen spec. Never modified after launch."""

    id: str
    version: str
    state: GenerationState
    weight: int
    launched_at: datetime
    launched_by: str
    note: str = ""
    count: int = 0
    instances: tuple[Instance, ...] = ()
    artifact: str = ""
    digest: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)
    #: what the driver recorded (``launching`` while its launch runs or was cut short)
    lifecycle: Lifecycle = Lifecycle.ACTIVE
    #: what real requests to the generation saw (None: nothing known yet)
    traffic: Traffic | None = None
    #: drift ``verify`` found since launch (sticky: tainted until retired)
    drift: tuple[str, ...] = ()
    #: older than the fleet's ``max_age``: due a rebuild
    rebuild_due: bool = False

    @property
    def tainted(self) -> bool:
        return bool(self.drift)

    @property
    def external(self) -> bool:
        """Not launched by Molt: what already ran behind the load balancer (``g0``).
        Molt shifts traffic to and from it, and retiring it only takes it off the load
        balancer: its instances are never touched."""
        return self.extra.get(EXTERNAL) == "true"

    @property
    def number(self) -> int:
        return generation_number(self.id)

    def healthy_count(self) -> int:
        return sum(1 for i in self.instances if i.health is Health.HEALTHY)

    @property
    def has_healthy(self) -> bool:
        return self.healthy_count() > 0

    @property
    def retired(self) -> bool:
        return self.state is GenerationState.RETIRED

    @classmethod
    def adopted(
        cls,
        instances: tuple[Instance, ...],
        weight: int,
        *,
        since: datetime,
        what: str,
        traffic: Traffic | None,
        extra: Mapping[str, str] | None = None,
    ) -> Generation:
        """The external ``g0``: what already ran behind the load balancer (``what``, in
        the backend's words), as every driver shows it."""
        return cls(
            id=EXTERNAL_GENERATION,
            version=EXTERNAL_VERSION,
            state=derive_state([i.health for i in instances], weight, Lifecycle.ACTIVE),
            weight=weight,
            launched_at=since,
            launched_by="",
            note=f"not launched by Molt: {what}",
            count=len(instances),
            instances=instances,
            traffic=traffic,
            extra={**(extra or {}), EXTERNAL: "true"},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "state": self.state.value,
            "weight": self.weight,
            "launched_at": iso(self.launched_at),
            "launched_by": self.launched_by,
            "note": self.note,
            "count": self.count,
            "artifact": self.artifact,
            "digest": self.digest,
            "lifecycle": self.lifecycle.value,
            "traffic": self.traffic.to_json() if self.traffic is not None else None,
            "tainted": self.tainted,
            "drift": list(self.drift),
            "rebuild_due": self.rebuild_due,
            "instances": [i.to_json() for i in self.instances],
            **({EXTERNAL: True} if self.external else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Generation:
        return cls(
            id=data["id"],
            version=data["version"],
            state=GenerationState(data["state"]),
            weight=int(data["weight"]),
            launched_at=parse_iso(data["launched_at"]) or utcnow(),
            launched_by=data.get("launched_by", ""),
            note=data.get("note", ""),
            count=int(data.get("count", 0)),
            instances=tuple(Instance.from_json(i) for i in data.get("instances", ())),
            artifact=data.get("artifact", ""),
            digest=data.get("digest", ""),
            lifecycle=Lifecycle(data.get("lifecycle", "active")),
            traffic=Traffic.from_json(data.get("traffic")),
            drift=tuple(data.get("drift") or ()),
            rebuild_due=bool(data.get("rebuild_due", False)),
            extra={EXTERNAL: "true"} if data.get(EXTERNAL) else {},
        )


@dataclass(frozen=True, slots=True)
class FleetRef:
    """A fleet as listed: its name, which backend drives it, where its traffic enters."""

    name: str
    backend: str
    entry: str


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """One consistent read of a fleet. Generations are ordered oldest first;
    retired ones are not included."""

    fleet: str
    backend: str
    entry: str
    generations: tuple[Generation, ...]
    taken_at: datetime = field(default_factory=utcnow)
    #: what differs from what Molt set and was left alone (read-only mode): one line each
    differences: tuple[str, ...] = ()
    #: parts of the read that could not be made (e.g. traffic numbers): one line each
    problems: tuple[str, ...] = ()

    @property
    def weights(self) -> dict[str, int]:
        return {g.id: g.weight for g in self.generations}

    @property
    def revision(self) -> str:
        """What a mutation may change — which generations there are, their weights and
        which are draining — as a short hash: equal revisions, same fleet to act on
        (health comes and goes; it does not count)."""
        shape = [(g.id, g.weight, g.state is GenerationState.DRAINING) for g in self.generations]
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:12]

    def generation(self, generation_id: str) -> Generation | None:
        return next((g for g in self.generations if g.id == generation_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "backend": self.backend,
            "entry": self.entry,
            "revision": self.revision,
            "generations": [g.to_json() for g in self.generations],
            "differences": list(self.differences),
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FleetSnapshot:
        return cls(
            fleet=data["fleet"],
            backend=data["backend"],
            entry=data["entry"],
            generations=tuple(Generation.from_json(g) for g in data["generations"]),
            differences=tuple(data.get("differences", ())),
            problems=tuple(data.get("problems", ())),
        )


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """What to launch. ``artifact`` overrides the fleet's configured artifact
    (a directory for local and ssh, an AMI id for aws)."""

    version: str
    count: int | None = None
    note: str = ""
    artifact: str | None = None
    launched_by: str = ""


class FileChange(StrEnum):
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class FileDrift:
    """One file that differs from the generation's manifest, on one host."""

    host: str
    path: str
    change: FileChange


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The result of an immutability check of one generation."""

    fleet: str
    generation: str
    checked: tuple[str, ...]  # hosts (or "local") whose trees were checked
    drift: tuple[FileDrift, ...] = ()
    unreachable: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.drift and not self.unreachable

    def to_json(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet,
            "generation": self.generation,
            "clean": self.clean,
            "checked": list(self.checked),
            "unreachable": list(self.unreachable),
            "drift": [
                {"host": d.host, "path": d.path, "change": d.change.value} for d in self.drift
            ],
        }
