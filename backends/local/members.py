"""What the agent holds in memory about a generation and its instances (the store holds
what must survive it)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from backends.core.model import Generation, Instance, Lifecycle, derive_state, parse_iso, utcnow
from backends.local import checks, processes
from backends.local.meter import Meter
from backends.local.store import GenerationRow


@dataclass(slots=True)
class InstanceRuntime:
    id: str
    generation: str
    port: int
    process: processes.Process
    judge: checks.HealthJudge
    last_check: str = ""
    latency_ms: float | None = None
    healthy_since: datetime | None = None
    restarts: int = 0
    restart_at: float = 0.0
    exited: bool = False  # its process is gone (seen by the supervisor)
    crashed: str = ""  # how its last process ended, until one passes a check
    task: asyncio.Task[None] | None = None

    def to_model(self, meter: Meter | None = None, as_of: datetime | None = None) -> Instance:
        traffic = meter.traffic([self.id], as_of or utcnow(), history=False) if meter else None
        return Instance(
            id=self.id,
            address=f"127.0.0.1:{self.port}",
            health=self.judge.health,
            pid=self.process.pid,
            last_check=self.last_check,
            latency_ms=self.latency_ms,
            healthy_since=self.healthy_since,
            traffic=traffic,
        )


@dataclass(slots=True)
class GenerationRuntime:
    row: GenerationRow
    tree: Path
    instances: dict[str, InstanceRuntime] = field(default_factory=dict)

    @property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.row.lifecycle)

    def to_model(self, meter: Meter | None = None, as_of: datetime | None = None) -> Generation:
        """The generation as Molt shows it; with the proxy's ``meter``, what real
        requests to it and to each instance saw."""
        as_of = as_of or utcnow()
        instances = tuple(i.to_model(meter, as_of) for i in self.instances.values())
        traffic = meter.traffic(self.instances, as_of, history=True) if meter else None
        return Generation(
            id=self.row.id,
            version=self.row.version,
            state=derive_state([i.health for i in instances], self.row.weight, self.lifecycle),
            weight=self.row.weight,
            launched_at=parse_iso(self.row.launched_at) or utcnow(),
            launched_by=self.row.launched_by,
            note=self.row.note,
            count=self.row.count,
            instances=instances,
            artifact=self.row.artifact,
            digest=self.row.digest,
            lifecycle=self.lifecycle,
            traffic=traffic,
        )
