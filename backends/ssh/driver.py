"""The ssh backend: generations as processes on SSH hosts, traffic through HAProxy."""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.errors import BackendError, ConfigError, NotFound, OperationFailed
from backends.core.events import DifferenceFound, Event, ReadError
from backends.core.guards import check_launched_by_molt
from backends.core.locking import FLEET_LOCK, ROLLOUT_LOCK, Lease
from backends.core.manifest import build_manifest, check_links, manifest_digest
from backends.core.model import (
    EXTERNAL_GENERATION,
    DriftReport,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    Lifecycle,
    derive_state,
    generation_number,
    parse_iso,
    utcnow,
)
from backends.core.polling import Follower
from backends.core.proofs import JournalLaunches
from backends.core.traffic import combine, merge_histories
from backends.ssh import adopted, remote, traffic
from backends.ssh.anchor import HostAnchors
from backends.ssh.connections import ConnectOptions, HostConnection, HostPool
from backends.ssh.haproxy import Haproxy, ServerStat
from backends.ssh.health import HostView, instance_model
from backends.ssh.hosts import Hosts
from backends.ssh.launching import launch_generation
from backends.ssh.lease import LbLease
from backends.ssh.meter import ServerMeter
from backends.ssh.parts import FleetParts
from backends.ssh.retiring import retire_generation
from backends.ssh.settings import HostAddress, SshSettings
from backends.ssh.state import FleetState, GenerationRecord, LbJournal, LbStore


@dataclass(frozen=True, slots=True)
class Reading:
    """One sweep: the fleet as a snapshot, and what the sweep found wrong on the way."""

    snapshot: FleetSnapshot
    host_failures: dict[str, str]
    differences: tuple[str, ...]


class SshBackend(Backend):
    """One fleet on SSH hosts behind an HAProxy backend."""

    kind = "ssh"
    hands_over_snapshots = True

    def __init__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> None:
        super().__init__(fleet, state_dir, read_only=read_only)
        self.settings: SshSettings = fleet.settings
        settings = self.settings
        if not settings.known_hosts.is_file():
            raise ConfigError(
                f"known_hosts file {settings.known_hosts} does not exist; host keys are "
                "always verified (add them with ssh-keyscan, checked out of band)"
            )
        options = ConnectOptions(settings.known_hosts, settings.identity, settings.connect_timeout)
        self.pool = HostPool(options, settings.max_handshakes)
        self.hosts_config = settings.host_addresses
        self.lb_host = settings.lb.address
        self.fleet_dir = posixpath.join(settings.base_dir, fleet.name)
        lb = self.pool[self.lb_host]
        timeout = max(settings.connect_timeout, 5.0)
        self.haproxy = Haproxy(lb, settings.lb.socket, settings.lb.backend, timeout=timeout)
        self.store = LbStore(lb, fleet.name, self.fleet_dir, timeout=timeout)
        anchors = HostAnchors(self.pool, self.hosts_config, self.lb_host, self.fleet_dir)
        self.journal = LbJournal(lb, self.fleet_dir, timeout=timeout, anchors=anchors)
        self._launches = JournalLaunches(fleet.name)  # what verify holds manifests against
        self.meter = ServerMeter()
        self.leases = {
            lock: LbLease(lb, fleet.name, self.fleet_dir, timeout=timeout, lock=lock)
            for lock in (FLEET_LOCK, ROLLOUT_LOCK)
        }
        self.hosts = Hosts(self.pool, fleet.name, self.fleet_dir, settings.connect_timeout)
        self._since = utcnow()  # when g0 is first shown: it has no launch time
        self.parts = FleetParts(
            fleet.name, settings, self.pool, self.hosts, self.store, self.haproxy
        )

    @property
    def entry(self) -> str:
        lb = self.settings.lb
        return lb.entry or f"haproxy {self.lb_host.display} backend {lb.backend}"

    @property
    def poll_interval(self) -> float:
        return min(2.0, max(0.2, self.settings.health.interval))

    # reading ------------------------------------------------------------------------------
    async def snapshot(self) -> FleetSnapshot:
        return (await self.read()).snapshot

    async def read(self) -> Reading:
        """The desired state, HAProxy's ``show stat`` and every host's processes — at
        once. HAProxy differing from the desired state (a reload, a weight set by hand)
        is reported, never put back: a look changes nothing; ``molt apply`` does."""
        state, stats, views = await asyncio.gather(
            self.store.read(), self.haproxy.servers(), self.hosts.sweep(self.hosts_config)
        )
        self.meter.read(stats)
        extra = {HostAddress.parse(i.host) for g in state.generations for i in g.instances}
        if extra - set(views):
            views.update(await self.hosts.sweep(extra - set(views)))
        text = traffic.difference(state, stats)
        found = (f"{text}; `molt apply {self.name}` puts it back",) if text else ()
        failures = {
            self.parts.label(h): v.failure.message
            for h, v in views.items()
            if v.failure is not None
        }
        snapshot = replace(self._model(state, stats, views), differences=found)
        return Reading(snapshot, failures, found)

    async def _apply(self) -> tuple[str, ...]:
        """HAProxy brought back to the desired state (``molt apply``, under the fleet
        lock): missing servers added, weights set back, orphans removed — on a fresh
        read under the LB host's lock, so a shift in flight elsewhere is not undone.
        Refused when it would leave no server carrying traffic where one does now."""
        async with self.store.locked() as state:
            stats = await self.haproxy.servers()
            if not traffic.difference(state, stats):
                return ()
            traffic.check_keeps_traffic(state, stats)
            applied = await traffic.apply(self.haproxy, state, stats, self.settings.health)
        if applied.problems:
            raise OperationFailed("; ".join(applied.problems))
        done = []
        if applied.added:
            done.append(f"HAProxy had lost {len(applied.added)} servers: added them back")
        if applied.reweighted:
            done.append(f"set the weights of {len(applied.reweighted)} HAProxy servers back")
        if applied.removed:
            done.append(f"removed {len(applied.removed)} servers of retired generations")
        return tuple(done)

    def _model(
        self,
        state: FleetState,
        stats: dict[str, ServerStat],
        views: dict[HostAddress, HostView],
    ) -> FleetSnapshot:
        generations = []
        external = adopted.external_generation(state, stats, self.meter, self._since)
        if external is not None:
            generations.append(external)
        for record in sorted(state.generations, key=lambda g: generation_number(g.id)):
            generations.append(self._generation(record, stats, views))
        return FleetSnapshot(self.name, self.kind, self.entry, tuple(generations))

    def _generation(
        self,
        record: GenerationRecord,
        stats: dict[str, ServerStat],
        views: dict[HostAddress, HostView],
    ) -> Generation:
        instances = []
        histories = []
        for instance in record.instances:
            host = HostAddress.parse(instance.host)
            stat = stats.get(instance.id)
            model = instance_model(instance, stat, views.get(host), record, self.parts.label(host))
            traffic = self.meter.traffic(instance.id, stat, history=True)
            if traffic is not None and traffic.history is not None:
                histories.append(traffic.history)
            instances.append(
                replace(model, traffic=replace(traffic, history=None) if traffic else None)
            )
        lifecycle = Lifecycle(record.lifecycle)
        together = combine((i.traffic for i in instances), utcnow())
        if together is not None and histories:
            together = replace(together, history=merge_histories(histories))
        return Generation(
            id=record.id,
            version=record.version,
            state=derive_state([i.health for i in instances], record.weight, lifecycle),
            weight=record.weight,
            launched_at=parse_iso(record.launched_at) or utcnow(),
            launched_by=record.launched_by,
            note=record.note,
            count=record.count,
            instances=tuple(instances),
            artifact=record.artifact,
            digest=record.digest,
            lifecycle=lifecycle,
            traffic=together,
        )

    async def watch(self) -> AsyncIterator[Event]:
        follower = Follower(self.name)
        failing: dict[str, str] = {}
        reported: set[str] = set()
        while True:
            try:
                reading = await self.read()
            except BackendError as error:
                for event in follower.failed(error):
                    yield event
            else:
                for host, why in reading.host_failures.items():
                    if failing.get(host) != why:
                        yield ReadError(
                            fleet=self.name, title="Unreachable", message=why, source=f"host {host}"
                        )
                for host in failing.keys() - reading.host_failures.keys():
                    yield ReadError(
                        fleet=self.name,
                        title="Reachable",
                        message="answers again",
                        source=f"host {host}",
                        cleared=True,
                    )
                failing = dict(reading.host_failures)
                for difference in reading.differences:
                    if difference not in reported:  # said once, not every read
                        yield DifferenceFound(fleet=self.name, what=difference)
                reported = set(reading.differences)
                for event in follower.read(reading.snapshot):
                    yield event
            await asyncio.sleep(self.poll_interval)

    # acting -------------------------------------------------------------------------------
    async def _launch(self, spec: GenerationSpec, resume: str | None) -> Generation:
        artifact = (
            Path(spec.artifact).expanduser().resolve() if spec.artifact else self.settings.artifact
        )
        if resume is not None:  # the artifact the cut-short launch began with
            left = (await self.store.read()).generation(resume)
            artifact = Path(left.artifact) if left is not None else artifact
        if not artifact.is_dir():
            raise NotFound(f"artifact {artifact} is not a directory")
        await asyncio.to_thread(check_links, artifact)
        manifest = await asyncio.to_thread(partial(build_manifest, artifact, seal=True))
        generation_id = await launch_generation(
            self.parts, spec, artifact, manifest, manifest_digest(manifest), resume
        )
        found = (await self.snapshot()).generation(generation_id)
        if found is None:
            raise OperationFailed(f"{generation_id} vanished while it was launched")
        return found

    async def _set_weights(self, weights: dict[str, int]) -> None:
        await adopted.set_weights(self.parts, weights)

    async def _retire(self, generation: str) -> None:
        if generation == EXTERNAL_GENERATION:  # off HAProxy only: not Molt's processes
            await adopted.retire_external(self.parts)
            return
        await retire_generation(self.parts, generation)

    # the fleet lock: a flock held open on the LB host ----------------------------------
    async def _acquire(self, lease: Lease) -> Lease:
        return await self._lease(lease.lock).take(lease)

    async def renew(self, lease: Lease) -> Lease:
        return await self._lease(lease.lock).renew(lease)

    async def release(self, lease: Lease) -> None:
        await self._lease(lease.lock).give_back(lease)

    async def lock_holder(self, lock: str = FLEET_LOCK) -> Lease | None:
        return await self._lease(lock).holder()

    def _lease(self, lock: str) -> LbLease:
        """A named lock on the LB host; others than the fleet's and the rollout's (a
        notify:N claim) are made on first use, as those are."""
        if lock not in self.leases:
            fleet = self.leases[FLEET_LOCK]
            self.leases[lock] = LbLease(
                fleet.lb, self.name, self.fleet_dir, timeout=fleet.timeout, lock=lock
            )
        return self.leases[lock]

    async def verify(self, generation: str) -> DriftReport:
        if generation == EXTERNAL_GENERATION:  # nothing it was launched from to hold
            return DriftReport(self.name, generation, (), ())
        state = await self.store.read()
        record = state.generation(generation)
        if record is None:
            raise NotFound(f"fleet {self.name} has no generation {generation}")
        labels = {
            HostAddress.parse(h): self.parts.label(HostAddress.parse(h)) for h in record.hosts
        }
        proof = await self._launches.proof(self.journal, generation)
        checked, drift, unreachable = await self.hosts.drift(record, labels, proof)
        return DriftReport(self.name, generation, tuple(checked), tuple(drift), tuple(unreachable))

    async def frozen(self, generation: str) -> dict[str, Any]:
        check_launched_by_molt(generation, "manifest")
        if (await self.store.read()).generation(generation) is None:
            raise NotFound(f"fleet {self.name} has no generation {generation}")
        return {"manifest": await self.store.kept_manifest(generation)}

    # what instances print: ``logs/<instance>.log`` in the generation's directory --------
    async def _instance_log(self, instance: str) -> tuple[HostConnection, str]:
        state = await self.store.read()
        for record in state.generations:
            for known in record.instances:
                if known.id == instance:
                    home = self.hosts.generation_dir(record.id)
                    path = posixpath.join(home, "logs", f"{instance}.log")
                    return self.pool[HostAddress.parse(known.host)], path
        running = [i.id for g in state.generations for i in g.instances]
        raise NotFound(
            f"fleet {self.name} has no instance {instance} (running: "
            f"{', '.join(running) or 'none'}); see `molt status {self.name}`"
        )

    async def logs(self, instance: str, lines: int) -> list[str]:
        conn, path = await self._instance_log(instance)
        done = await conn.run(
            remote.log_script(path, lines), timeout=self.settings.connect_timeout * 3
        )
        return done.stdout.splitlines()

    async def follow(self, instance: str) -> AsyncIterator[str]:
        conn, path = await self._instance_log(instance)
        async with conn.process(f"exec tail -n 0 -F {shlex.quote(path)} 2>/dev/null") as tail:
            while line := await tail.stdout.readline():
                yield line.rstrip("\n")

    async def close(self) -> None:
        await self.pool.close()
