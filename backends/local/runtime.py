"""One local fleet inside the agent: its generations' processes, health and proxy.

The store holds what must survive the agent; this holds what is re-derived at start
(process handles, health counters, the routing table).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shlex
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from backends.config.templates import render
from backends.contract import check_complete
from backends.core.broadcast import Broadcast
from backends.core.deadline import Deadline
from backends.core.errors import BackendError, NotFound, OperationFailed, Refused
from backends.core.events import (
    Event,
    HealthChanged,
    InstanceRestarted,
    ReadError,
    StateChanged,
    WeightsChanged,
    launched,
)
from backends.core.locking import Lease
from backends.core.manifest import MANIFEST_NAME, check_links
from backends.core.model import (
    DriftReport,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    GenerationState,
    Health,
    Lifecycle,
    iso,
    parse_iso,
    utcnow,
)
from backends.core.proofs import Launches, LaunchProof
from backends.local import checks, logs, processes
from backends.local.members import GenerationRuntime, InstanceRuntime
from backends.local.meter import Meter
from backends.local.processes import STOP_GRACE
from backends.local.proxy import Proxy
from backends.local.routing import Route, Router, Upstream
from backends.local.settings import LocalSettings, split_address
from backends.local.store import GenerationRow, InstanceRow, Store
from backends.local.trees import freeze, remove_tree, tree_drift
from backends.local.wire import Limits, MiB

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
        self.meter = Meter()
        limits = Limits(max_body=settings.max_body_mib * MiB)
        self.proxy = Proxy(name, self.router, self.meter, limits)
        self.entry = ""
        self.events = Broadcast()
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._retiring: dict[str, asyncio.Task[None]] = {}
        self._launching: dict[str, asyncio.Task[None]] = {}
        #: the fleet's locks by name, each held by one Molt's open connection
        #: (see Agent._hold_lock)
        self.leases: dict[str, Lease] = {}
        #: each generation's launch as the journal proves it, read once (off the loop)
        #: and then fed as the agent stores writes (see :meth:`journaled`)
        self._launches: Launches | None = None
        self._launches_seq = 0
        self._reading_launches: asyncio.Future[None] | None = None

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
        for generation in list(self.generations.values()):
            if generation.lifecycle is Lifecycle.DRAINING:  # the agent died mid-retire
                self._retire_task(generation)
            elif generation.lifecycle is Lifecycle.LAUNCHING:  # ... or mid-launch
                self._launch_task(generation)

    def _judge(self, previous: InstanceRuntime | None = None) -> checks.HealthJudge:
        """A fresh judge, in its start period; an instance restarted after its process
        exited stays unhealthy until it passes its checks again."""
        health = self.settings.health
        judge = checks.HealthJudge(
            health.healthy_threshold, health.unhealthy_threshold, health.start_period
        )
        if previous is not None and previous.judge.health is Health.UNHEALTHY:
            judge.health = Health.UNHEALTHY
        return judge

    def _adopt(self, generation: GenerationRuntime, saved: InstanceRow) -> None:
        process = processes.Process(
            pid=saved.pid,
            started=saved.started,
            marks=processes.marks(self.home, self.name, saved.id),
        )
        judge = self._judge()
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
            self.publish(
                ReadError(
                    fleet=self.name,
                    title="Proxy",
                    message=reason + " (change listen in molt.toml)",
                    source="proxy",
                )
            )
            return
        self.store.set_entry(self.name, self.entry)

    async def apply(self, settings: LocalSettings) -> list[str]:
        """Run with ``settings`` from now on (``molt apply``); what changed, one line
        each. A new ``listen`` is bound before the old one is let go; when it cannot be
        bound the change is refused and nothing changes. Instances keep running: a new
        ``start``, ``artifact`` or ``count`` takes effect with the next launch."""
        before = self.settings
        done = []
        if settings.listen != before.listen:
            was = self.entry or "no address"
            host, port = split_address(settings.listen)
            try:
                self.entry = await self.proxy.move(host, port)
            except OSError as error:
                raise Refused(
                    f"cannot listen on {settings.listen} ({error.strerror or error}); the "
                    f"proxy stays on {was} and nothing was changed — free that address or "
                    "change listen in molt.toml"
                ) from error
            self.store.set_entry(self.name, self.entry)
            done.append(f"the proxy listens on {self.entry} (was {was})")
        self.settings = settings
        if settings.max_body_mib != before.max_body_mib:
            self.proxy.limits = replace(self.proxy.limits, max_body=settings.max_body_mib * MiB)
            done.append(
                f"the proxy takes request bodies up to {settings.max_body_mib} MiB "
                f"(was {before.max_body_mib}) on new connections"
            )
        if settings.health != before.health:
            self._recheck()
            done.append("health checks follow the new settings")
        changed = [
            key
            for key in ("artifact", "start", "count", "drain_timeout", "listen_fallback")
            if getattr(settings, key) != getattr(before, key)
        ]
        if changed:
            done.append(f"{', '.join(changed)}: in effect from the next launch or retire")
        return done

    def _recheck(self) -> None:
        """Every instance checked with the current health settings, keeping its health."""
        health = self.settings.health
        for generation in self.generations.values():
            for instance in generation.instances.values():
                judge = instance.judge
                judge.healthy_threshold = health.healthy_threshold
                judge.unhealthy_threshold = health.unhealthy_threshold
                judge.start_period = health.start_period
                if instance.task is not None:
                    instance.task.cancel()
                    self._start_checks(instance)

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
            if i.process.group()  # the leader, or what it left running
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
        as_of = utcnow()
        return FleetSnapshot(
            fleet=self.name,
            backend="local",
            entry=self.entry,
            generations=tuple(g.to_model(self.meter, as_of) for g in self.generations.values()),
        )

    def _generation(self, generation_id: str) -> GenerationRuntime:
        try:
            return self.generations[generation_id]
        except KeyError:
            raise NotFound(f"fleet {self.name} has no generation {generation_id}") from None

    def publish(self, event: Event) -> None:
        self.events.publish(event)

    def _state_changed(
        self, generation_id: str, before: GenerationState, after: GenerationState, detail: str = ""
    ) -> None:
        self.publish(
            StateChanged(
                fleet=self.name,
                generation_id=generation_id,
                before=before,
                after=after,
                detail=detail,
            )
        )

    # launching -------------------------------------------------------------------------
    async def launch(self, spec: GenerationSpec, resume: str | None = None) -> Generation:
        """Record the generation ``launching``, freeze its tree, start its instances,
        then mark it ``active``. An agent killed at any step finishes it when it starts
        again; ``resume`` names a generation left launching, to finish (or join) its
        launch. A start command that cannot run at all leaves nothing behind."""
        if resume is not None:
            generation = self._generation(resume)
            if generation.lifecycle is Lifecycle.LAUNCHING:
                await asyncio.shield(self._launch_task(generation))
            return generation.to_model()
        artifact = Path(spec.artifact) if spec.artifact else self.settings.artifact
        if not artifact.is_dir():
            raise NotFound(f"artifact {artifact} is not a directory")
        await asyncio.to_thread(check_links, artifact)  # refused before anything is made
        count = spec.count or self.settings.count
        number = self.store.take_generation_number(self.name)
        generation_id = f"g{number}"
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
            digest="",
            weight=0,
            lifecycle=Lifecycle.LAUNCHING.value,
        )
        generation = GenerationRuntime(row=row, tree=self.home / generation_id / "tree")
        async with self._lock:
            self.store.add_generation(row)
            self.generations[generation_id] = generation
        self.publish(
            launched(self.name, generation_id, spec.version, count, spec.note, spec.launched_by)
        )
        await asyncio.shield(self._launch_task(generation))  # Molt leaving must not stop it
        return generation.to_model()

    def _launch_task(self, generation: GenerationRuntime) -> asyncio.Task[None]:
        task = self._launching.get(generation.row.id)
        if task is None:
            task = asyncio.ensure_future(self._finish_launch(generation))
            self._launching[generation.row.id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _: self._launching.pop(generation.row.id, None))
        return task

    async def _finish_launch(self, generation: GenerationRuntime) -> None:
        home = self.home / generation.row.id
        if not generation.row.digest:
            await asyncio.to_thread(remove_tree, home)  # a copy cut short is not trusted
            try:
                digest = await asyncio.to_thread(freeze, Path(generation.row.artifact), home)
            except (OSError, BackendError) as error:
                await self._destroy(generation, reason=f"cannot copy its artifact: {error}")
                if isinstance(error, BackendError):
                    raise
                raise OperationFailed(
                    f"cannot copy artifact {generation.row.artifact}: {error}"
                ) from error
            generation.row.digest = digest
            self.store.set_digest(self.name, generation.row.id, digest)
        async with self._lock:
            try:
                for index in range(1, generation.row.count + 1):
                    instance_id = f"{generation.row.id}-{index}"
                    if instance_id not in generation.instances:
                        stray = processes.strays(processes.marks(self.home, self.name, instance_id))
                        await asyncio.to_thread(processes.stop, stray, STOP_GRACE)
                        self._start_instance(generation, instance_id)
            except OperationFailed as error:
                await self._destroy(generation, reason=f"its start command failed: {error}")
                raise
            generation.row.lifecycle = Lifecycle.ACTIVE.value
            self.store.set_lifecycle(self.name, generation.row.id, generation.row.lifecycle)

    def _start_instance(self, generation: GenerationRuntime, instance_id: str) -> InstanceRuntime:
        port = processes.free_port()
        command = render(self.settings.start, port=port, python=shlex.quote(processes.python()))
        process = processes.spawn(
            shlex.split(command),
            cwd=generation.tree,
            env={
                "MOLT_FLEET": self.name,
                "MOLT_GENERATION": generation.row.id,
                "MOLT_INSTANCE": instance_id,
                "MOLT_VERSION": generation.row.version,
                "PORT": str(port),
            },
            log=self._log(instance_id),
            marks=processes.marks(self.home, self.name, instance_id),
        )
        previous = generation.instances.get(instance_id)
        instance = InstanceRuntime(
            id=instance_id,
            generation=generation.row.id,
            port=port,
            process=process,
            judge=self._judge(previous),
        )
        if previous is not None:
            instance.restarts, instance.restart_at = previous.restarts, previous.restart_at
            instance.crashed = previous.crashed
            instance.last_check = previous.last_check
            if previous.task is not None:
                previous.task.cancel()
        generation.instances[instance_id] = instance
        self._save_instance(instance)
        self._start_checks(instance)
        return instance

    def _log(self, instance_id: str) -> Path:
        return logs.log_path(self.home, instance_id)

    def log_of(self, instance_id: str) -> Path:
        """An instance's log (one retired a while ago keeps its log)."""
        path = self._log(instance_id)
        if not path.exists() or "/" in instance_id or instance_id.startswith("."):
            running = [i for g in self.generations.values() for i in g.instances]
            raise NotFound(
                f"fleet {self.name} has no instance {instance_id} "
                f"(running: {', '.join(running) or 'none'}); see `molt status {self.name}`"
            )
        return path

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
        if instance.exited:
            return  # its process is gone: the supervisor said so and restarts it
        instance.last_check, instance.latency_ms = result.text, result.latency_ms
        left = instance.judge.starting()
        if instance.crashed and not instance.judge.passed_once:
            instance.last_check = f"{instance.crashed}; restarted, {result.text}"
        elif not result.passed and left > 0:
            instance.last_check = f"{result.text} (starting: {left:.0f} s of its start period left)"
        before = instance.judge.health
        after = instance.judge.observe(result.passed)
        if after is not None:
            self._health_changed(
                instance, before, after, checks.describe_check(after, result, instance.judge)
            )

    def _health_changed(
        self, instance: InstanceRuntime, before: Health, after: Health, check: str
    ) -> None:
        instance.healthy_since = utcnow() if after is Health.HEALTHY else None
        self.store.set_health(self.name, instance.id, after.value, iso(instance.healthy_since))
        self._reroute()
        self.publish(
            HealthChanged(
                fleet=self.name,
                generation_id=instance.generation,
                instance_id=instance.id,
                before=before,
                after=after,
                check=check,
            )
        )

    async def _supervise(self) -> None:
        """Restart instances whose process died, with a growing back-off; keep their
        logs under their size cap."""
        loop = asyncio.get_running_loop()
        rounds = 0
        while True:
            await asyncio.sleep(SUPERVISE_EVERY)
            rounds += 1
            if rounds % 20 == 0:
                await asyncio.to_thread(self._cap_logs)
            for generation in list(self.generations.values()):
                if generation.lifecycle is not Lifecycle.ACTIVE:
                    continue
                for instance in list(generation.instances.values()):
                    if instance.process.alive():
                        continue
                    if not instance.exited:
                        await processes.writer_done(instance.process)
                        if generation.lifecycle is not Lifecycle.ACTIVE or instance.exited:
                            continue
                        self._exited(instance)
                    if loop.time() >= instance.restart_at:
                        self._restart(generation, instance, loop.time())

    def _cap_logs(self) -> None:
        for generation in list(self.generations.values()):
            for instance_id in list(generation.instances):
                logs.cap(self._log(instance_id))

    def _exited(self, instance: InstanceRuntime) -> None:
        """Its process is gone: unhealthy at once, with the exit status and the last
        line it printed (a start period is for slow starters, not for crashes)."""
        instance.exited = True
        last = processes.last_line(self._log(instance.id))
        instance.last_check = f"process {_how(instance)}" + (f": {last}" if last else "")
        instance.crashed = instance.last_check
        before = instance.judge.health
        if instance.judge.failed_now() is not None:
            self._health_changed(instance, before, Health.UNHEALTHY, instance.last_check)

    def _restart(
        self, generation: GenerationRuntime, instance: InstanceRuntime, now: float
    ) -> None:
        how = _how(instance)
        instance.restarts += 1
        instance.restart_at = now + min(RESTART_BACKOFF_MAX, 2.0**instance.restarts)
        restarted = InstanceRestarted(
            fleet=self.name, generation_id=generation.row.id, instance_id=instance.id, how=how
        )
        try:
            fresh = self._start_instance(generation, instance.id)
        except OperationFailed as error:
            self.publish(replace(restarted, problem=error.message))
            return
        self._reroute()
        self.publish(replace(restarted, pid=fresh.process.pid))

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
        """The complete map: every generation the agent holds (retired ones are gone)."""
        async with self._lock:
            complete = check_complete(weights, self.generations)
            for generation_id, weight in complete.items():
                generation = self.generations[generation_id]
                if weight and generation.lifecycle is not Lifecycle.ACTIVE:
                    state = generation.lifecycle.value
                    raise Refused(f"{generation_id} is {state}; it cannot take traffic")
            before = {g: r.row.weight for g, r in self.generations.items()}
            self.store.set_weights(self.name, complete)
            for generation_id, weight in complete.items():
                self.generations[generation_id].row.weight = weight
            self._reroute()
        if before != complete:
            self.publish(WeightsChanged(fleet=self.name, before=before, after=complete))

    # retiring --------------------------------------------------------------------------
    async def retire(self, generation_id: str) -> None:
        """Drain and destroy; a second call while that runs waits for the same retire."""
        async with self._lock:
            generation = self._generation(generation_id)
            if generation.row.weight > 0:
                raise Refused(f"{generation_id} still carries {generation.row.weight}% of traffic")
            if generation.lifecycle is not Lifecycle.DRAINING:
                was = generation.to_model().state
                generation.row.lifecycle = Lifecycle.DRAINING.value
                self.store.set_lifecycle(self.name, generation_id, generation.row.lifecycle)
                self._reroute()
                self._state_changed(generation_id, was, GenerationState.DRAINING)
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
        generation_id = generation.row.id
        async for _ in Deadline(self.settings.drain_timeout).every(0.05):
            if self.proxy.in_flight[generation_id] == 0:
                break
        left = self.proxy.in_flight[generation_id]
        if left:
            detail = f"drain timeout, {left} requests still in flight"
            self._state_changed(
                generation_id, GenerationState.DRAINING, GenerationState.DRAINING, detail
            )
        await self._destroy(generation, reason="")

    async def _destroy(self, generation: GenerationRuntime, reason: str) -> None:
        """Stop its processes, remove its tree, mark it retired (``reason``: why, when
        it was not an operator's retire)."""
        was = generation.to_model().state
        for instance in generation.instances.values():
            if instance.task is not None:
                instance.task.cancel()
        running = [i.process for i in generation.instances.values()]
        await asyncio.to_thread(processes.stop, running, STOP_GRACE)
        await asyncio.to_thread(remove_tree, self.home / generation.row.id)
        for instance_id in generation.instances:
            self.meter.forget(instance_id)
        generation.row.lifecycle = Lifecycle.RETIRED.value
        self.store.set_lifecycle(self.name, generation.row.id, generation.row.lifecycle)
        self.store.delete_instances(self.name, generation.row.id)
        self.generations.pop(generation.row.id, None)
        self._reroute()
        self._state_changed(generation.row.id, was, GenerationState.RETIRED, reason)

    # immutability ----------------------------------------------------------------------
    async def frozen(self, generation_id: str) -> dict[str, Any]:
        """The manifest written when the generation's tree was frozen (kept in its
        home while the generation lives)."""
        self._generation(generation_id)
        path = self.home / generation_id / MANIFEST_NAME
        text = await asyncio.to_thread(path.read_text) if path.exists() else "null"
        return {"manifest": json.loads(text)}

    def journaled(self, line: str, seq: int) -> None:
        """The agent stored ``line`` (sequence number ``seq``) on this fleet's journal."""
        if self._launches is not None and seq > self._launches_seq:
            self._launches.feed((line,))
            self._launches_seq = seq

    async def launch_proof(self, generation_id: str) -> LaunchProof:
        """What the journal proves about the generation's launch. The journal is read
        whole once, its writes hashed on a worker thread (the proxy keeps serving), then
        kept up to date by :meth:`journaled`: a verify never reads it again."""
        if self._launches is None:
            if self._reading_launches is None:
                self._reading_launches = asyncio.ensure_future(self._read_launches())
            await asyncio.shield(self._reading_launches)
        assert self._launches is not None
        return self._launches.proof(generation_id)

    async def _read_launches(self) -> None:
        launches, seq = Launches(self.name), None  # from the first row, wherever it is
        try:
            while True:
                rows = list(itertools.islice(self.store.journal_after(self.name, seq), 2000))
                if not rows:  # read to the end with no wait since: later writes are fed
                    self._launches, self._launches_seq = launches, seq or 0
                    return
                seq = rows[-1][0]
                await asyncio.to_thread(launches.feed, [line for _, line in rows])
        finally:
            self._reading_launches = None

    async def verify(self, generation_id: str) -> DriftReport:
        generation = self._generation(generation_id)  # NotFound: unknown or retired
        proof = await self.launch_proof(generation_id)
        drift = await asyncio.to_thread(
            tree_drift,
            self.home / generation_id,
            proof.journaled,
            generation.row.digest,
            doubtful=proof.doubtful,
        )
        return DriftReport(
            fleet=self.name,
            generation=generation_id,
            checked=("local",),
            drift=tuple(drift),
        )


def _how(instance: InstanceRuntime) -> str:
    code = instance.process.exit_code()
    if code is None:
        return "is no longer running"
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with code {code}"
