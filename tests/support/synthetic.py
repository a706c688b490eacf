"""An in-memory Backend for deterministic TUI tests and the scale benchmark.

It implements the whole contract (snapshot, watch, launch, set_weights, retire, verify,
journal) without processes or sockets — the contract suite in ``tests/backends`` runs
against it as against every driver; the TUI drives it through the same
:class:`backends.engine.operations.Operations` as any driver, so the same guards apply.
Tests shape it directly (``add_generation``, ``set_health``, ``set_traffic``, ``fail``)
with a frozen clock, so screenshots are byte-stable, and act on it as another operator
would (``elsewhere``, ``rollout_elsewhere``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backends.config.fleet_config import FleetConfig
from backends.contract import Backend, check_complete
from backends.core import chain
from backends.core.broadcast import Broadcast
from backends.core.errors import BackendError, NotFound, Refused
from backends.core.events import (
    Event,
    HealthChanged,
    OperatorAction,
    SnapshotTaken,
    StateChanged,
    WeightsChanged,
    launched,
)
from backends.core.journal import Journal, JournalRecord, Outcome, fold
from backends.core.locking import FLEET_LOCK, ROLLOUT_LOCK, Lease, Locked
from backends.core.model import (
    DriftReport,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    GenerationState,
    Health,
    Instance,
    Lifecycle,
    derive_state,
    generation_number,
)
from backends.core.rollout import Plan
from backends.core.traffic import Totals, Traffic, TrafficHistory
from backends.engine.operations import Operations

FROZEN = datetime(2026, 11, 26, 14, 2, 11, tzinfo=UTC)


class ManualClock:
    """A clock that only moves when told to: the app and the backend share it, so ages
    and event times in screenshots are the same on every run."""

    def __init__(self, at: datetime = FROZEN) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def frozen_clock(at: datetime = FROZEN) -> ManualClock:
    return ManualClock(at)


@dataclass
class _Generation:
    id: str
    version: str
    count: int
    note: str
    launched_at: datetime
    launched_by: str
    weight: int = 0
    lifecycle: Lifecycle = Lifecycle.ACTIVE
    instances: list[Instance] = field(default_factory=list)
    traffic: Traffic | None = None
    #: counters as a source keeps them: what was counted before ``counting_since``, and
    #: the rate, error rate and p99 they grow at from then on
    counted: Totals = field(default_factory=lambda: Totals(0, 0, ()))
    counting_since: float = 0.0

    def totals(self, now: float) -> Totals | None:
        traffic = self.traffic
        if traffic is None or traffic.rps is None:
            return self.counted if self.counted.requests else None
        requests = int(traffic.rps * max(0.0, now - self.counting_since))
        errors = int(requests * (traffic.error_rate or 0.0))
        p99 = traffic.p99_ms or 10.0
        slow = requests // 100
        grown = Totals(requests, errors, ((p99 / 3, requests - slow), (p99, slow)))
        return self.counted + grown

    def to_model(self, now: float = 0.0) -> Generation:
        instances = tuple(self.instances)
        traffic = self.traffic
        if traffic is not None:
            traffic = replace(traffic, totals=self.totals(now))
        return Generation(
            id=self.id,
            version=self.version,
            state=derive_state([i.health for i in instances], self.weight, self.lifecycle),
            weight=self.weight,
            launched_at=self.launched_at,
            launched_by=self.launched_by,
            note=self.note,
            count=self.count,
            instances=instances,
            artifact=f"registry.example/web:{self.version}",
            lifecycle=self.lifecycle,
            digest=f"sha256:{generation_number(self.id):0>8}" + "c0ffee" * 9,
            traffic=traffic,
        )


class MemoryJournal(Journal):
    """Append-only writes in a list; finished actions reach watchers like the agent's."""

    def __init__(self, backend: SyntheticBackend) -> None:
        self.backend = backend
        self.writes: list[JournalRecord] = []
        self.seeded = 0  # writes made up by a test, before the app acted

    def since_seeded(self) -> list[JournalRecord]:
        """What the app wrote: finished actions only (not the ``started`` writes)."""
        return [w for w in self.writes[self.seeded :] if w.outcome is not Outcome.STARTED]

    async def write(self, record: JournalRecord) -> None:
        await self.backend.maybe_fail("journal")
        written = replace(record, at=self.backend.clock())
        self.writes.append(written)
        if record.outcome is not Outcome.STARTED:
            self.backend.publish(OperatorAction(fleet=record.fleet, at=written.at, record=written))

    async def records(self, fleet: str) -> list[JournalRecord]:
        await self.backend.maybe_fail("journal")
        return fold(w for w in self.writes if w.fleet == fleet)

    async def lines(self, fleet: str) -> list[str]:
        """The writes as a sealed chain (tests may have appended some by hand)."""
        await self.backend.maybe_fail("journal")
        lines: list[str] = []
        for write in (w for w in self.writes if w.fleet == fleet):
            lines.append(chain.seal(write.to_json(), chain.hash_of(lines[-1]) if lines else ""))
        return lines


class SyntheticBackend(Backend):
    """One fleet in memory, on a frozen clock unless given one. ``auto_health`` (seconds)
    makes launched instances settle by themselves: healthy, or unhealthy for versions
    ending in ``-bad``."""

    kind = "synthetic"

    def __init__(
        self,
        fleet: str = "web",
        *,
        clock: Callable[[], datetime] | None = None,
        entry: str = "10.0.0.1:443",
        operator: str = "alice",
        count: int = 3,
        auto_health: float | None = None,
        retire_for: float = 0.0,
        read_only: bool = False,
    ) -> None:
        config = FleetConfig(name=fleet, backend="synthetic", settings=None, source="test")
        super().__init__(config, Path("/nonexistent-molt-state"), read_only=read_only)
        self.fleet = fleet
        self.leases: dict[str, Lease] = {}
        self.printed: dict[str, list[str]] = {}  # instance → lines it printed
        self.retire_for = retire_for  # seconds a retire drains (a retire to interrupt)
        self.drained: asyncio.Event | None = None  # if set: a retire drains until it is set
        self.closed = False
        self.clock = clock or ManualClock()
        #: what request counters grow with (real seconds: rollouts bake in real time)
        self.traffic_clock: Callable[[], float] = time.monotonic
        self.entry = entry
        self.operator_name = operator
        self.count = count
        self.auto_health = auto_health
        self.memory = MemoryJournal(self)
        self.journal = self.memory
        self.generations: dict[str, _Generation] = {}
        self.failures: dict[str, BackendError] = {}
        self.events = Broadcast()
        self.watchers = 0  # watches of this backend that are listening (tests wait on it)
        self._tasks: set[asyncio.Task[None]] = set()

    # shaping the fleet (tests) ----------------------------------------------------------
    def add_generation(
        self,
        version: str,
        healths: Sequence[Health] | int = 3,
        *,
        weight: int = 0,
        age: timedelta = timedelta(0),
        note: str = "",
        launched_by: str = "alice",
    ) -> str:
        """Add a generation as if launched ``age`` ago; an int means that many healthy."""
        if isinstance(healths, int):
            healths = [Health.HEALTHY] * healths
        # ids are never reused: retired generations stay in ``generations``
        generation_id = f"g{max(map(generation_number, self.generations), default=0) + 1}"
        launched = self.clock() - age
        generation = _Generation(
            generation_id, version, len(healths), note, launched, launched_by, weight
        )
        generation.instances = [
            self._instance(generation_id, n, health, launched)
            for n, health in enumerate(healths, start=1)
        ]
        self.generations[generation_id] = generation
        return generation_id

    def _instance(self, generation_id: str, n: int, health: Health, since: datetime) -> Instance:
        number = generation_number(generation_id)
        return Instance(
            id=f"{generation_id}-{n}",
            address=f"10.0.{number}.{n}:8000",
            health=health,
            last_check=_check_text(health),
            latency_ms=3.0 if health is Health.HEALTHY else None,
            healthy_since=since if health is Health.HEALTHY else None,
        )

    def set_health(self, instance_id: str, health: Health, detail: str = "") -> None:
        """Move one instance to ``health`` and publish the transition, as a checker would."""
        generation = self.generations[instance_id.rpartition("-")[0]]
        index = int(instance_id.rpartition("-")[2]) - 1
        before = generation.instances[index]
        generation.instances[index] = replace(
            before,
            health=health,
            last_check=detail or _check_text(health),
            latency_ms=3.0 if health is Health.HEALTHY else None,
            healthy_since=self.clock() if health is Health.HEALTHY else None,
        )
        self.publish(
            HealthChanged(
                fleet=self.fleet,
                at=self.clock(),
                generation_id=generation.id,
                instance_id=instance_id,
                before=before.health,
                after=health,
                check=detail,
            )
        )

    def set_traffic(
        self,
        generation_id: str,
        rps: float | None,
        error_rate: float | None = 0.0,
        p99_ms: float | None = None,
        *,
        window_s: float = 60.0,
        history: Sequence[tuple[float | None, float | None]] = (),
        publish: bool = True,
    ) -> None:
        """What real requests to ``generation_id`` saw over the last ``window_s`` seconds
        (``rps`` None: nothing seen), handed to watchers in a fresh read as a polled
        driver does (``publish=False``: not yet, more to set first). ``history``:
        (req/s, error rate) per 10 s step, oldest first."""
        generation = self.generations[generation_id]
        now = self.traffic_clock()
        generation.counted = generation.totals(now) or generation.counted
        generation.counting_since = now
        if rps is None:
            generation.traffic = None
        else:
            steps = TrafficHistory(10.0, tuple(r for r, _ in history), tuple(e for _, e in history))
            generation.traffic = Traffic(
                window_s=window_s,
                requests=round(rps * window_s),
                rps=rps,
                error_rate=error_rate,
                as_of=self.clock(),
                p50_ms=p99_ms / 3 if p99_ms is not None else None,
                p99_ms=p99_ms,
                history=steps if history else None,
            )
        if publish:
            self.publish(SnapshotTaken(fleet=self.fleet, at=self.clock(), snapshot=self._read()))

    def elsewhere(self, operator: str = "bob") -> Operations:
        """The guarded operations of another operator on this fleet (another terminal,
        the CLI): same lock, same journal, same guards."""
        ops = Operations(self)
        ops._operator = operator
        return ops

    async def rollout_elsewhere(
        self,
        generation: str,
        baseline: str,
        *,
        steps: int,
        plan: Plan,
        by: str = "bob",
        slow_ms: float | None = None,
    ) -> str:
        """A rollout of ``generation`` driven from another terminal, ``steps`` steps in, as
        ``molt rollout`` leaves it: its driver holds the rollout lock, its start and each
        step are journaled (the steps as shifts carrying the rollout). Returns its id."""
        rollout = f"rollout-{generation}"
        await self.acquire(Lease.new(by, f"rollout {generation}", rollout, lock=ROLLOUT_LOCK))
        ops = self.elsewhere(by)

        def totals(generation_id: str) -> dict[str, Any] | None:
            found = self._read().generation(generation_id)
            counted = found.traffic.totals if found and found.traffic else None
            return counted.to_json() if counted is not None else None

        start = {"event": "start", "generation": generation, "baseline": baseline}
        counters = {"baseline_totals": totals(baseline), "slow_ms": slow_ms}
        await ops.record(
            "rollout", {**start, "plan": plan.to_json(), **counters}, record_id=rollout
        )
        for step in range(1, steps + 1):
            weights = {g: x.weight for g, x in self.generations.items() if x.weight}
            others = sum(w for g, w in weights.items() if g not in (generation, baseline))
            weights[generation] = plan.steps[step - 1]
            weights[baseline] = 100 - plan.steps[step - 1] - others
            why = {
                "rollout": rollout,
                "step": step,
                "of": len(plan.steps),
                "evidence": [],
                "canary_totals": totals(generation),
            }
            await ops.shift(weights, why=why)
        return rollout

    def fail(self, method: str, error: BackendError) -> None:
        """Make ``method`` (snapshot, watch, launch, set_weights, retire, journal) raise."""
        self.failures[method] = error

    def heal(self) -> None:
        self.failures.clear()

    async def maybe_fail(self, method: str) -> None:
        error = self.failures.get(method)
        if error is not None:
            raise error

    def publish(self, event: Event) -> None:
        self.events.publish(event)

    def open_as(self, *, read_only: bool) -> SyntheticBackend:
        """This very backend as a session opens it, so a test shapes what the app sees
        (its read-only mode set from now on: a shortcut the contract does not allow a
        driver; :meth:`reopened` opens another backend on the fleet as a driver does)."""
        self._read_only = read_only
        self.journal = self.memory
        return self

    def reopened(self, *, read_only: bool) -> SyntheticBackend:
        """Another backend on this fleet, as another process would open it: the same
        generations, journal, locks, events and printed lines; its own read-only mode."""
        other = SyntheticBackend(
            self.fleet,
            clock=self.clock,
            entry=self.entry,
            operator=self.operator_name,
            count=self.count,
            auto_health=self.auto_health,
            retire_for=self.retire_for,
            read_only=read_only,
        )
        other.generations = self.generations
        other.leases = self.leases
        other.printed = self.printed
        other.events = self.events
        other.traffic_clock = self.traffic_clock
        other.memory = self.memory
        other.journal = self.memory
        return other

    @property
    def poll_interval(self) -> float:
        return 0.02

    def _state(self, generation: _Generation, after: GenerationState, detail: str = "") -> None:
        before = generation.to_model().state
        self.publish(
            StateChanged(
                fleet=self.fleet,
                at=self.clock(),
                generation_id=generation.id,
                before=before,
                after=after,
                detail=detail,
            )
        )

    # the contract ------------------------------------------------------------------------
    async def snapshot(self) -> FleetSnapshot:
        await self.maybe_fail("snapshot")
        return self._read()

    def _read(self) -> FleetSnapshot:
        return FleetSnapshot(
            fleet=self.fleet,
            backend=self.kind,
            entry=self.entry,
            generations=tuple(
                g.to_model(self.traffic_clock())
                for g in self.generations.values()
                if g.lifecycle is not Lifecycle.RETIRED
            ),
            taken_at=self.clock(),
        )

    async def watch(self) -> AsyncIterator[Event]:
        await self.maybe_fail("watch")
        with self.events.subscription() as queue:
            self.watchers += 1  # subscribed: it hears every event from now on
            try:
                while True:
                    yield await queue.get()
            finally:
                self.watchers -= 1

    # the fleet lock, in memory -----------------------------------------------------------
    async def _acquire(self, lease: Lease) -> Lease:
        await self.maybe_fail("lock")
        held = self.leases.get(lease.lock)
        if held is not None and held.token != lease.token and not held.expired:
            raise Locked(self.fleet, held)
        self.leases[lease.lock] = lease
        return lease

    async def renew(self, lease: Lease) -> Lease:
        held = self.leases.get(lease.lock)
        if held is not None and held.token != lease.token:
            raise Locked(self.fleet, held, lease.lock)  # lost meanwhile: taken over
        self.leases[lease.lock] = lease.renewed(self.lease_ttl)
        return self.leases[lease.lock]

    async def release(self, lease: Lease) -> None:
        held = self.leases.get(lease.lock)
        if held is not None and held.token == lease.token:
            del self.leases[lease.lock]

    async def lock_holder(self, lock: str = FLEET_LOCK) -> Lease | None:
        return self.leases.get(lock)

    @property
    def lease(self) -> Lease | None:
        """The fleet lock's lease (a test sets it to lock the app out)."""
        return self.leases.get(FLEET_LOCK)

    @lease.setter
    def lease(self, lease: Lease | None) -> None:
        if lease is None:
            self.leases.pop(FLEET_LOCK, None)
        else:
            self.leases[FLEET_LOCK] = lease

    async def _launch(self, spec: GenerationSpec, resume: str | None) -> Generation:
        await self.maybe_fail("launch")
        if resume is not None:
            left = self._generation(resume)  # NotFound, as a driver says it
            left.lifecycle = Lifecycle.ACTIVE
            return left.to_model()
        count = spec.count or self.count
        generation_id = self.add_generation(
            spec.version,
            [Health.PENDING] * count,
            note=spec.note,
            launched_by=spec.launched_by,
        )
        by = spec.launched_by
        event = launched(self.fleet, generation_id, spec.version, count, spec.note, by)
        self.publish(replace(event, at=self.clock()))
        if self.auto_health is not None:
            self._spawn(self._settle(generation_id))
        return self.generations[generation_id].to_model()

    async def _settle(self, generation_id: str) -> None:
        generation = self.generations[generation_id]
        bad = generation.version.endswith("-bad")
        for instance in list(generation.instances):
            await asyncio.sleep(self.auto_health or 0)
            if generation.lifecycle is Lifecycle.ACTIVE:
                detail = "GET /healthz → 500 (2/2 failed)" if bad else "200 in 3 ms (2/2 passed)"
                health = Health.UNHEALTHY if bad else Health.HEALTHY
                self.set_health(instance.id, health, detail)

    async def _set_weights(self, weights: Mapping[str, int]) -> None:
        await self.maybe_fail("set_weights")
        live = {g: x for g, x in self.generations.items() if x.lifecycle is not Lifecycle.RETIRED}
        complete = check_complete(weights, live)
        before = {g: x.weight for g, x in live.items()}
        for generation_id, weight in complete.items():
            live[generation_id].weight = weight
        self.publish(
            WeightsChanged(fleet=self.fleet, at=self.clock(), before=before, after=complete)
        )

    async def _retire(self, generation: str) -> None:
        await self.maybe_fail("retire")
        target = self._generation(generation)
        if target.weight:
            raise Refused(f"{generation} still carries {target.weight}% of traffic")
        if target.lifecycle is not Lifecycle.DRAINING:
            self._state(target, GenerationState.DRAINING)
            target.lifecycle = Lifecycle.DRAINING
        await asyncio.sleep(self.retire_for)
        if self.drained is not None:
            await self.drained.wait()
        self._state(target, GenerationState.RETIRED)
        target.lifecycle = Lifecycle.RETIRED

    async def verify(self, generation: str) -> DriftReport:
        self._generation(generation)
        return DriftReport(fleet=self.fleet, generation=generation, checked=("synthetic",))

    async def operator(self) -> str:
        return self.operator_name

    async def frozen(self, generation: str) -> dict[str, object]:
        version = self._generation(generation).version
        manifest = {"app.py": {"sha256": f"{version:0>64}"[-64:], "mode": "0444"}}
        if version.endswith("-new"):
            manifest["feature.py"] = {"sha256": "f" * 64, "mode": "0444"}
        return {"manifest": manifest}

    async def logs(self, instance: str, lines: int) -> list[str]:
        printed = self.printed.get(instance)
        if printed is None:
            raise NotFound(f"fleet {self.fleet} has no instance {instance}")
        return printed[-lines:] if lines else []

    async def follow(self, instance: str) -> AsyncIterator[str]:
        await self.logs(instance, 0)  # NotFound for an instance that never printed
        seen = len(self.printed[instance])
        while True:
            for line in self.printed[instance][seen:]:
                yield line
            seen = len(self.printed[instance])
            await asyncio.sleep(0.02)

    def print_line(self, instance: str, line: str) -> None:
        """The instance prints a line (tests: what ``logs``/``follow`` show)."""
        self.printed.setdefault(instance, []).append(line)

    async def close(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task

    # helpers -------------------------------------------------------------------------------
    def _generation(self, generation_id: str) -> _Generation:
        found = self.generations.get(generation_id)
        if found is None or found.lifecycle is Lifecycle.RETIRED:
            raise NotFound(f"fleet {self.fleet} has no generation {generation_id}")
        return found

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _check_text(health: Health) -> str:
    return {
        Health.HEALTHY: "200 in 3 ms",
        Health.UNHEALTHY: "GET /healthz → 500",
        Health.PENDING: "",
        Health.GONE: "",
    }[health]
