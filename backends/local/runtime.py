"""One local fleet inside the agent: its generations' processes, health and proxy.

The store holds what must survive the agent; this holds what is re-derived at start
(process handles, health counters, the routing table).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from backends.broadcast import Broadcast
from backends.errors import NotFound, OperationFailed, Refused
from backends.local import checks, processes
from backends.local.members import GenerationRuntime, InstanceRuntime
from backends.local.processes import STOP_GRACE
from backends.local.proxy import Proxy
from backends.local.routing import Route, Router, Upstream
from backends.local.settings import LocalSettings, split_address
from backends.local.store import GenerationRow, InstanceRow, Store
from backends.local.trees import freeze, remove_tree, tree_drift
from backends.model import (
    DriftReport,
    Event,
    EventKind,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    Health,
    Lifecycle,
    iso,
    parse_iso,
    utcnow,
)

RESTART_BACKOFF_MAX = 30.0
SUPERVISE_EVERY = 0.5


class FleetRuntime:
    """Supervises one fleet's instances, checks their health and routes its traffic."""

    def __init__(self, name: str, settings: LocalSettings, store: Store, state_dir: Path) -> None:
        self.name = name
        self.settings = settings
        self.store = store
        self.home = state_dir / "fleets" / name
        self.generations: dict[str, GenerationRuntime] = {}
        self.router = Router()
        self.proxy = Proxy(name, self.router)
        self.entry = ""
        self.events = Broadcast()
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._retiring: dict[str, asyncio.Task[None]] = {}

    # life of the runtime -------------------------------------------------------------
    async def start(self, last_entry: str) -> None:
        """Re-adopt what is running, restart what is not, open the proxy."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True)
        )
        for row in self.store.generations(self.name):
            generation = GenerationRuntime(row=row, tree=self.home / row.id / "tree")
            self.generations[row.id] = generation
            for saved in self.store.instances(self.name, row.id):
                self._adopt(generation, saved)
        self._reroute()
        await self._open_proxy(last_entry)
        self._spawn_task(self._supervise())
        for generation in self.generations.values():
            if generation.lifecycle is Lifecycle.DRAINING:  # the agent died mid-retire
                self._retire_task(generation)

    def _adopt(self, generation: GenerationRuntime, saved: InstanceRow) -> None:
        process = processes.Process(pid=saved.pid, started=saved.started)
        judge = checks.HealthJudge(
            self.settings.health.healthy_threshold, self.settings.health.unhealthy_threshold
        )
        instance = InstanceRuntime(
            id=saved.id, generation=generation.row.id, port=saved.port, process=process, judge=judge
        )
        if process.alive():
            # keep the last judged health so the proxy serves at once; checks resume now
            judge.health = Health(saved.health)
            instance.healthy_since = parse_iso(saved.healthy_since)
        generation.instances[saved.id] = instance
        self._start_checks(instance)

    async def _open_proxy(self, last_entry: str) -> None:
        host, port = split_address(self.settings.listen)
        candidates = [port]
        if self.settings.listen_fallback:
            if last_entry:
                candidates.insert(0, split_address(last_entry)[1])
            candidates.append(0)
        for candidate in dict.fromkeys(candidates):
            try:
                self.entry = await self.proxy.start(host, candidate)
                break
            except OSError as error:
                reason = f"cannot listen on {host}:{candidate}: {error.strerror}"
        else:
            self.publish(EventKind.ERROR, reason + " (change listen in molt.toml)")
            return
        self.store.set_entry(self.name, self.entry)

    async def close(self) -> None:
        """Stop watching and proxying; the instances keep running."""
        for task in list(self._tasks):
            task.cancel()
        for generation in self.generations.values():
            for instance in generation.instances.values():
                if instance.task is not None:
                    instance.task.cancel()
        await self.proxy.close()
        if self._session is not None:
            await self._session.close()

    async def stop_instances(self) -> list[int]:
        """Stop every instance (``molt agent stop``); their generations stay as they are."""
        stopped = [
            i.process
            for g in self.generations.values()
            for i in g.instances.values()
            if i.process.alive()
        ]
        await self.close()
        await asyncio.to_thread(processes.stop, stopped, STOP_GRACE)
        return [p.pid for p in stopped]

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # reading ---------------------------------------------------------------------------
    def snapshot(self) -> FleetSnapshot:
        return FleetSnapshot(
            fleet=self.name,
            backend="local",
            entry=self.entry,
            generations=tuple(g.to_model() for g in self.generations.values()),
        )

    def _generation(self, generation_id: str) -> GenerationRuntime:
        try:
            return self.generations[generation_id]
        except KeyError:
            raise NotFound(f"fleet {self.name} has no generation {generation_id}") from None

    def publish(
        self,
        kind: EventKind,
        message: str,
        generation: str | None = None,
        instance: str | None = None,
        operator: str | None = None,
    ) -> None:
        self.events.publish(
            Event(utcnow(), self.name, kind, message, generation, instance, operator)
        )

    # launching -------------------------------------------------------------------------
    async def launch(self, spec: GenerationSpec) -> Generation:
        artifact = Path(spec.artifact) if spec.artifact else self.settings.artifact
        if not artifact.is_dir():
            raise NotFound(f"artifact {artifact} is not a directory")
        count = spec.count or self.settings.count
        number = self.store.take_generation_number(self.name)
        generation_id = f"g{number}"
        home = self.home / generation_id
        try:
            digest = await asyncio.to_thread(freeze, artifact, home)
        except OSError as error:
            await asyncio.to_thread(remove_tree, home)
            raise OperationFailed(f"cannot copy artifact {artifact}: {error}") from error
        row = GenerationRow(
            fleet=self.name,
            id=generation_id,
            number=number,
            version=spec.version,
            count=count,
            note=spec.note,
            launched_at=iso(utcnow()) or "",
            launched_by=spec.launched_by,
            artifact=str(artifact),
            digest=digest,
            weight=0,
            lifecycle=Lifecycle.ACTIVE.value,
        )
        generation = GenerationRuntime(row=row, tree=home / "tree")
        async with self._lock:
            self.store.add_generation(row)
            self.generations[generation_id] = generation
            try:
                for index in range(1, count + 1):
                    self._start_instance(generation, f"{generation_id}-{index}")
            except OperationFailed:
                await self._destroy(generation, reason="its start command failed")
                raise
        self.publish(
            EventKind.STATE,
            f"{generation_id} launched: {spec.version} × {count}"
            + (f" — {spec.note}" if spec.note else ""),
            generation=generation_id,
            operator=spec.launched_by,
        )
        return generation.to_model()

    def _start_instance(self, generation: GenerationRuntime, instance_id: str) -> InstanceRuntime:
        port = processes.free_port()
        process = processes.spawn(
            self.settings.start,
            port=port,
            cwd=generation.tree,
            env={
                "MOLT_FLEET": self.name,
                "MOLT_GENERATION": generation.row.id,
                "MOLT_INSTANCE": instance_id,
                "MOLT_VERSION": generation.row.version,
            },
            log=self.home / "logs" / f"{instance_id}.log",
        )
        judge = checks.HealthJudge(
            self.settings.health.healthy_threshold, self.settings.health.unhealthy_threshold
        )
        instance = InstanceRuntime(
            id=instance_id, generation=generation.row.id, port=port, process=process, judge=judge
        )
        previous = generation.instances.get(instance_id)
        if previous is not None:
            instance.restarts, instance.restart_at = previous.restarts, previous.restart_at
            if previous.task is not None:
                previous.task.cancel()
        generation.instances[instance_id] = instance
        self._save_instance(instance)
        self._start_checks(instance)
        return instance

    def _save_instance(self, instance: InstanceRuntime) -> None:
        self.store.save_instance(
            InstanceRow(
                fleet=self.name,
                generation=instance.generation,
                id=instance.id,
                port=instance.port,
                pid=instance.process.pid,
                started=instance.process.started,
                health=instance.judge.health.value,
                healthy_since=iso(instance.healthy_since),
            )
        )

    # health ----------------------------------------------------------------------------
    def _start_checks(self, instance: InstanceRuntime) -> None:
        instance.task = asyncio.ensure_future(self._check_forever(instance))

    async def _check_forever(self, instance: InstanceRuntime) -> None:
        health = self.settings.health
        url = f"http://127.0.0.1:{instance.port}{health.path}"
        loop = asyncio.get_running_loop()
        assert self._session is not None
        while True:
            started = loop.time()
            result = await checks.probe(self._session, url, health.path, health.timeout)
            self._observe(instance, result)
            await checks.sleep_until_next(started, health.interval)

    def _observe(self, instance: InstanceRuntime, result: checks.CheckResult) -> None:
        instance.last_check, instance.latency_ms = result.text, result.latency_ms
        before = instance.judge.health
        after = instance.judge.observe(result.passed)
        if after is None:
            return
        instance.healthy_since = utcnow() if after is Health.HEALTHY else None
        self.store.set_health(self.name, instance.id, after.value, iso(instance.healthy_since))
        self._reroute()
        self.publish(
            EventKind.HEALTH,
            checks.describe_transition(instance.id, before, after, result, instance.judge),
            generation=instance.generation,
            instance=instance.id,
        )

    async def _supervise(self) -> None:
        """Restart instances whose process died, with a growing back-off."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SUPERVISE_EVERY)
            for generation in list(self.generations.values()):
                if generation.lifecycle is not Lifecycle.ACTIVE:
                    continue
                for instance in list(generation.instances.values()):
                    if instance.process.alive() or loop.time() < instance.restart_at:
                        continue
                    self._restart(generation, instance, loop.time())

    def _restart(
        self, generation: GenerationRuntime, instance: InstanceRuntime, now: float
    ) -> None:
        code = instance.process.exit_code()
        how = f"exited with code {code}" if code is not None else "is no longer running"
        instance.restarts += 1
        instance.restart_at = now + min(RESTART_BACKOFF_MAX, 2.0**instance.restarts)
        try:
            fresh = self._start_instance(generation, instance.id)
        except OperationFailed as error:
            self.publish(
                EventKind.ERROR,
                f"{instance.id} {how}; restart failed: {error}",
                generation.row.id,
                instance.id,
            )
            return
        self._reroute()
        self.publish(
            EventKind.HEALTH,
            f"{instance.id} {how}; restarted from the frozen tree (pid {fresh.process.pid})",
            generation.row.id,
            instance.id,
        )

    # traffic ---------------------------------------------------------------------------
    def _reroute(self) -> None:
        self.router.update(
            Route(
                generation=g.row.id,
                weight=g.row.weight if g.lifecycle is Lifecycle.ACTIVE else 0,
                upstreams=tuple(
                    Upstream(g.row.id, i.id, i.port)
                    for i in g.instances.values()
                    if i.judge.health is Health.HEALTHY
                ),
            )
            for g in self.generations.values()
        )

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        async with self._lock:
            for generation_id, weight in weights.items():
                generation = self._generation(generation_id)
                if weight and generation.lifecycle is not Lifecycle.ACTIVE:
                    raise Refused(f"{generation_id} is being retired; it cannot take traffic")
            if sum(weights.values()) not in (0, 100):
                raise Refused(f"weights must sum to 100, not {sum(weights.values())}")
            self.store.set_weights(self.name, weights)
            for generation_id, weight in weights.items():
                self.generations[generation_id].row.weight = weight
            self._reroute()
        shown = " ".join(f"{g}={w}" for g, w in weights.items())
        self.publish(EventKind.WEIGHTS, f"weights {shown}")

    # retiring --------------------------------------------------------------------------
    async def retire(self, generation_id: str) -> None:
        """Drain and destroy; a second call while that runs waits for the same retire."""
        async with self._lock:
            generation = self._generation(generation_id)
            if generation.row.weight > 0:
                raise Refused(f"{generation_id} still carries {generation.row.weight}% of traffic")
            if generation.lifecycle is not Lifecycle.DRAINING:
                generation.row.lifecycle = Lifecycle.DRAINING.value
                self.store.set_lifecycle(self.name, generation_id, generation.row.lifecycle)
                self._reroute()
                self.publish(EventKind.STATE, f"{generation_id} draining", generation_id)
            task = self._retire_task(generation)
        await asyncio.shield(task)  # the caller leaving must not stop a retire half way

    def _retire_task(self, generation: GenerationRuntime) -> asyncio.Task[None]:
        task = self._retiring.get(generation.row.id)
        if task is None:
            task = asyncio.ensure_future(self._finish_retire(generation))
            self._retiring[generation.row.id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return task

    async def _finish_retire(self, generation: GenerationRuntime) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.drain_timeout
        while self.proxy.in_flight[generation.row.id] > 0 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        left = self.proxy.in_flight[generation.row.id]
        if left:
            self.publish(
                EventKind.STATE,
                f"{generation.row.id}: drain timeout, {left} requests still in flight",
                generation.row.id,
            )
        await self._destroy(generation, reason="retired")

    async def _destroy(self, generation: GenerationRuntime, reason: str) -> None:
        for instance in generation.instances.values():
            if instance.task is not None:
                instance.task.cancel()
        running = [i.process for i in generation.instances.values()]
        await asyncio.to_thread(processes.stop, running, STOP_GRACE)
        await asyncio.to_thread(remove_tree, self.home / generation.row.id)
        generation.row.lifecycle = Lifecycle.RETIRED.value
        self.store.set_lifecycle(self.name, generation.row.id, generation.row.lifecycle)
        self.store.delete_instances(self.name, generation.row.id)
        self.generations.pop(generation.row.id, None)
        self._reroute()
        self.publish(EventKind.STATE, f"{generation.row.id} {reason}", generation.row.id)

    # immutability ----------------------------------------------------------------------
    async def verify(self, generation_id: str) -> DriftReport:
        self._generation(generation_id)  # NotFound for an unknown or retired one
        drift = await asyncio.to_thread(tree_drift, self.home / generation_id)
        return DriftReport(
            fleet=self.name,
            generation=generation_id,
            checked=("local",),
            drift=tuple(drift),
        )
