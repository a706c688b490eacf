"""The ssh backend: generations as processes on SSH hosts, traffic through HAProxy."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from backends.base import Backend
from backends.config import FleetConfig
from backends.errors import BackendError, ConfigError, NotFound, OperationFailed, Refused
from backends.manifest import build_manifest, manifest_digest
from backends.model import (
    DriftReport,
    Event,
    EventKind,
    FleetRef,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    Lifecycle,
    derive_state,
    generation_number,
    parse_iso,
    utcnow,
)
from backends.polling import Follower
from backends.ssh import traffic
from backends.ssh.connections import ConnectOptions, HostPool
from backends.ssh.haproxy import Haproxy, ServerStat
from backends.ssh.health import HostView, instance_model
from backends.ssh.hosts import Hosts
from backends.ssh.launching import launch_generation
from backends.ssh.retiring import retire_generation
from backends.ssh.settings import HostAddress, SshSettings
from backends.ssh.state import FleetState, GenerationRecord, LbJournal, LbStore


@dataclass(frozen=True, slots=True)
class Reading:
    """One sweep: the fleet as a snapshot, and what the sweep found wrong on the way."""

    snapshot: FleetSnapshot
    host_failures: dict[str, str]
    notes: tuple[str, ...]


class SshBackend(Backend):
    """One fleet on SSH hosts behind an HAProxy backend."""

    kind = "ssh"

    def __init__(self, fleet: FleetConfig, state_dir: Path) -> None:
        self.config = fleet
        self.name = fleet.name
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
        self.journal = LbJournal(lb, self.fleet_dir, timeout=timeout)
        self.hosts = Hosts(self.pool, fleet.name, self.fleet_dir, settings.connect_timeout)

    # naming -------------------------------------------------------------------------------
    def _check_fleet(self, fleet: str) -> None:
        if fleet != self.name:
            raise NotFound(f"this backend serves fleet {self.name}, not {fleet}")

    @property
    def entry(self) -> str:
        lb = self.settings.lb
        return lb.entry or f"haproxy {self.lb_host.display} backend {lb.backend}"

    def label(self, host: HostAddress) -> str:
        """How instances name their host: the address, or address:port when two hosts
        share an address."""
        addresses = [h.address for h in self.hosts_config]
        return host.address if addresses.count(host.address) <= 1 else host.display

    # reading ------------------------------------------------------------------------------
    async def fleets(self) -> list[FleetRef]:
        return [FleetRef(self.name, self.kind, self.entry)]

    async def snapshot(self, fleet: str) -> FleetSnapshot:
        self._check_fleet(fleet)
        return (await self.read()).snapshot

    async def read(self) -> Reading:
        """The desired state, HAProxy's ``show stat`` and every host's processes — at
        once; then HAProxy is brought back to the desired state if it drifted (a reload)."""
        state, stats, views = await asyncio.gather(
            self.store.read(), self.haproxy.servers(), self.hosts.sweep(self.hosts_config)
        )
        extra = {HostAddress.parse(i.host) for g in state.generations for i in g.instances}
        if extra - set(views):
            views.update(await self.hosts.sweep(extra - set(views)))
        notes = await self._restore(state, stats)
        failures = {
            self.label(h): v.failure.message for h, v in views.items() if v.failure is not None
        }
        return Reading(self._model(state, stats, views), failures, notes)

    async def _restore(self, state: FleetState, stats: dict[str, ServerStat]) -> tuple[str, ...]:
        wanted = traffic.desired_weights(state)
        if not any(name not in stats for name in wanted) and all(
            stats[n].weight == w or stats[n].status.startswith("MAINT") for n, w in wanted.items()
        ):
            return ()  # the common case: nothing to do, no command sent
        if self.read_only:
            return (
                "HAProxy differs from the desired state (reloaded?); "
                "not restored in read-only mode",
            )
        try:
            # under the lock, on a fresh read: a shift in flight elsewhere is not undone
            async with self.store.locked() as state:
                stats.clear()
                stats.update(await self.haproxy.servers())
                applied = await traffic.apply(self.haproxy, state, stats, self.settings.health)
        except BackendError as error:
            return (f"cannot restore HAProxy's servers: {error.message}",)
        stats.update((await self.haproxy.servers()) if applied.added else {})
        notes = list(applied.problems)
        if applied.added:
            notes.append(
                f"HAProxy had lost {len(applied.added)} servers (reloaded?); "
                "restored them with their weights"
            )
        elif applied.reweighted:
            notes.append(f"restored the weights of {len(applied.reweighted)} HAProxy servers")
        return tuple(notes)

    def _model(
        self,
        state: FleetState,
        stats: dict[str, ServerStat],
        views: dict[HostAddress, HostView],
    ) -> FleetSnapshot:
        generations = []
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
        for instance in record.instances:
            host = HostAddress.parse(instance.host)
            instances.append(
                instance_model(
                    instance, stats.get(instance.id), views.get(host), record, self.label(host)
                )
            )
        lifecycle = Lifecycle(record.lifecycle)
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
            extra={"phase": record.phase},
        )

    async def watch(self, fleet: str) -> AsyncIterator[Event]:
        self._check_fleet(fleet)
        interval = min(2.0, max(0.2, self.settings.health.interval))
        follower = Follower(fleet)
        failing: dict[str, str] = {}
        while True:
            try:
                reading = await self.read()
            except BackendError as error:
                for event in follower.failed(error):
                    yield event
            else:
                now = utcnow()
                for host, why in reading.host_failures.items():
                    if failing.get(host) != why:
                        yield Event(now, fleet, EventKind.ERROR, f"host {host}: {why}")
                for host in failing.keys() - reading.host_failures.keys():
                    yield Event(now, fleet, EventKind.STATE, f"host {host} answers again")
                failing = dict(reading.host_failures)
                for note in reading.notes:
                    yield Event(now, fleet, EventKind.STATE, note)
                for event in follower.read(reading.snapshot):
                    yield event
            await asyncio.sleep(interval)

    # acting -------------------------------------------------------------------------------
    async def launch(self, fleet: str, spec: GenerationSpec) -> Generation:
        self._check_fleet(fleet)
        artifact = (
            Path(spec.artifact).expanduser().resolve() if spec.artifact else self.settings.artifact
        )
        if not artifact.is_dir():
            raise NotFound(f"artifact {artifact} is not a directory")
        manifest = await asyncio.to_thread(build_manifest, artifact)
        generation_id = await launch_generation(
            self, spec, artifact, manifest, manifest_digest(manifest)
        )
        snapshot = await self.snapshot(fleet)
        found = snapshot.generation(generation_id)
        if found is None:
            raise OperationFailed(f"{generation_id} vanished while it was launched")
        return found

    def placement(self, count: int | None) -> list[HostAddress]:
        """The host of each instance: ``count`` in total, spread over the hosts in turn;
        by default the fleet's ``count`` on every host."""
        hosts = list(self.hosts_config)
        total = count if count is not None else self.settings.count * len(hosts)
        return [hosts[index % len(hosts)] for index in range(total)]

    async def set_weights(self, fleet: str, weights: Mapping[str, int]) -> None:
        self._check_fleet(fleet)
        async with self.store.update() as state:
            for generation_id, weight in weights.items():
                record = state.generation(generation_id)
                if record is None:
                    raise NotFound(f"fleet {fleet} has no generation {generation_id}")
                if weight and record.lifecycle != Lifecycle.ACTIVE.value:
                    raise Refused(f"{generation_id} is being retired; it cannot take traffic")
            after = {g.id: int(weights.get(g.id, g.weight)) for g in state.generations}
            if sum(after.values()) not in (0, 100):
                raise Refused(f"weights must sum to 100, not {sum(after.values())}")
            for record in state.generations:
                record.weight = after[record.id]
            stats = await self.haproxy.servers()
            applied = await traffic.apply(self.haproxy, state, stats, self.settings.health)
            if applied.problems:
                raise OperationFailed(applied.problems[0])

    async def retire(self, fleet: str, generation: str) -> None:
        self._check_fleet(fleet)
        await retire_generation(self, generation)

    async def verify(self, fleet: str, generation: str) -> DriftReport:
        self._check_fleet(fleet)
        state = await self.store.read()
        record = state.generation(generation)
        if record is None:
            raise NotFound(f"fleet {fleet} has no generation {generation}")
        labels = {HostAddress.parse(h): self.label(HostAddress.parse(h)) for h in record.hosts}
        checked, drift, unreachable = await self.hosts.drift(record, labels)
        return DriftReport(fleet, generation, tuple(checked), tuple(drift), tuple(unreachable))

    async def close(self) -> None:
        await self.pool.close()
