"""Launching a generation: number and ports under the LB lock, then every host at once
(upload once, seal, start), then its servers into HAProxy at weight 0.

The generation is in the desired state (``launching``) before any host is touched, so
whatever happens next it is visible (and retirable), never an orphan. A host that
cannot be reached gets its instances marked with the reason; the others proceed. A
launch cut short is finished by launching the same version again (``resume``): trees
already sealed with the right manifest stay, instances already running are kept.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from backends.core.errors import BackendError, OperationFailed
from backends.core.model import GenerationSpec, Lifecycle, iso, utcnow
from backends.ssh.parts import FleetParts
from backends.ssh.settings import HostAddress
from backends.ssh.state import FleetState, GenerationRecord, InstanceRecord


async def launch_generation(
    backend: FleetParts,
    spec: GenerationSpec,
    artifact: Path,
    manifest: dict[str, str],
    digest: str,
    resume: str | None = None,
) -> str:
    """Launch (or finish launching ``resume``) and return the generation's id."""
    if resume is not None:
        record = await _left_launching(backend, resume, digest)
    else:
        record = await _record(backend, spec, artifact, digest)
    await backend.store.keep_manifest(record.id, manifest)
    errors = await _deploy(backend, record, artifact, manifest, resume is not None)
    started = [i for i in record.instances if not i.error and i.id not in errors]
    haproxy_error: BackendError | None = None
    if started:
        try:
            errors.update(await _add_servers(backend, started))
        except BackendError as error:
            haproxy_error = error
    async with backend.store.update() as state:
        saved = state.generation(record.id)
        if saved is not None:
            for instance in saved.instances:
                if instance.id in errors:
                    instance.error = errors[instance.id]
            started_any = any(not i.error for i in saved.instances)
            saved.lifecycle = (Lifecycle.ACTIVE if started_any else Lifecycle.FAILED).value
    if haproxy_error is not None:
        raise haproxy_error
    failed = [i for i in record.instances if i.error or i.id in errors]
    if len(failed) == len(record.instances):
        first = failed[0].error or errors[failed[0].id]
        raise OperationFailed(f"{record.id} could not start anywhere: {first}")
    return record.id


async def _left_launching(backend: FleetParts, generation: str, digest: str) -> GenerationRecord:
    record = (await backend.store.read()).generation(generation)
    if record is None or record.lifecycle != Lifecycle.LAUNCHING.value:
        raise OperationFailed(f"{generation} is not left launching; nothing to finish")
    if record.digest != digest:
        raise OperationFailed(
            f"the artifact {record.artifact} changed since {generation}'s launch began; "
            f"retire {generation} (`molt retire {backend.name} {generation}`) and launch again"
        )
    return record


async def _record(
    backend: FleetParts, spec: GenerationSpec, artifact: Path, digest: str
) -> GenerationRecord:
    """The new generation in the desired state, with its number, hosts and ports."""
    placement = backend.placement(spec.count)
    hosts = list(dict.fromkeys(placement))
    in_use = await backend.hosts.ports_in_use(hosts)
    async with backend.store.update() as state:
        record = GenerationRecord(
            lifecycle=Lifecycle.LAUNCHING.value,
            id=f"g{state.next_generation}",
            version=spec.version,
            count=len(placement),
            launched_at=iso(utcnow()) or "",
            launched_by=spec.launched_by,
            note=spec.note,
            artifact=str(artifact),
            digest=digest,
            hosts=[str(h) for h in hosts],
        )
        state.next_generation += 1
        record.instances = _place(backend, state, record.id, placement, in_use)
        state.generations.append(record)
    return record


def _place(
    backend: FleetParts,
    state: FleetState,
    generation: str,
    placement: list[HostAddress],
    in_use: dict[HostAddress, set[int] | BackendError],
) -> list[InstanceRecord]:
    """An id and a fresh port for every instance (ports of the fleet's other instances
    and ports the host listens on are not fresh)."""
    taken: dict[str, set[int]] = defaultdict(set)
    for other in state.generations:
        for instance in other.instances:
            taken[instance.address].add(instance.port)
    ports = backend.settings.port_range
    numbers: dict[HostAddress, int] = defaultdict(int)
    instances = []
    for host in placement:
        numbers[host] += 1
        instance_id = f"{generation}-{backend.label(host)}-{numbers[host]}"
        used = in_use[host]
        if isinstance(used, BackendError):
            instances.append(
                InstanceRecord(instance_id, str(host), host.address, 0, error=used.message)
            )
            continue
        port = next((p for p in ports if p not in used and p not in taken[host.address]), None)
        if port is None:
            error = f"{host.display}: no free port in {backend.settings.ports}"
            instances.append(InstanceRecord(instance_id, str(host), host.address, 0, error=error))
            continue
        taken[host.address].add(port)
        instances.append(InstanceRecord(instance_id, str(host), host.address, port))
    return instances


async def _deploy(
    backend: FleetParts,
    record: GenerationRecord,
    artifact: Path,
    manifest: dict[str, str],
    resume: bool = False,
) -> dict[str, str]:
    """Put the generation on every host that has instances; ``{instance: error}``."""
    by_host: dict[HostAddress, list[InstanceRecord]] = defaultdict(list)
    for instance in record.instances:
        if not instance.error:
            by_host[HostAddress.parse(instance.host)].append(instance)

    async def one(host: HostAddress) -> None:
        await backend.hosts.deploy(
            host,
            record,
            by_host[host],
            artifact,
            manifest,
            backend.settings.start,
            resume=resume,
            log_size=backend.settings.log_size,
        )

    results = await backend.pool.each(by_host, lambda conn: one(conn.host))
    errors = {}
    for host, result in results.items():
        if isinstance(result, BackendError):
            for instance in by_host[host]:
                errors[instance.id] = result.message
    return errors


async def _add_servers(backend: FleetParts, started: list[InstanceRecord]) -> dict[str, str]:
    """Each instance into HAProxy at weight 0 with its checks on; ``{instance: error}``
    for those HAProxy refused."""
    health = backend.settings.health
    haproxy = backend.haproxy
    commands: list[tuple[str, str]] = []
    for instance in started:
        for command in haproxy.add_commands(
            instance.id,
            instance.endpoint,
            inter_ms=max(100, int(health.interval * 1000)),
            rise=health.healthy_threshold,
            fall=health.unhealthy_threshold,
            weight=0,
        ):
            commands.append((instance.id, command))
    answers = await haproxy.batch([c for _, c in commands], check=False)
    errors: dict[str, str] = {}
    for (name, command), answer in zip(commands, answers, strict=True):
        text = answer.strip()
        if command.startswith("add server"):  # already there: added before a cut
            refused = "New server registered" not in text and "already exists" not in text
        else:
            refused = bool(text)
        if refused and name not in errors:
            errors[name] = f"HAProxy refused `{command}`: {text or 'no answer'}"
    return errors
