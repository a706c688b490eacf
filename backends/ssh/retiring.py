"""Retiring a generation: weight 0 → ``state drain`` → wait until its servers' sessions
reach 0 (bounded by the drain timeout) → ``state maint`` → ``del server`` → stop its
processes → remove its trees. Every step is safe to do again, so retiring a generation
that is already draining (a retire cut short) resumes it. Hosts that cannot be reached
are remembered in the desired state and cleaned when a later retire finds them
answering again.
"""

from __future__ import annotations

from backends.core.deadline import Deadline
from backends.core.errors import NotFound, OperationFailed, Refused, Unreachable
from backends.core.model import Lifecycle, iso, utcnow
from backends.ssh.haproxy import Haproxy
from backends.ssh.parts import FleetParts
from backends.ssh.settings import HostAddress

DELETE_TIMEOUT = 10.0  # after the drain, how long HAProxy may keep connections attached


async def retire_generation(backend: FleetParts, generation: str) -> None:
    async with backend.store.update() as state:
        record = state.generation(generation)
        if record is None:
            raise NotFound(f"fleet {backend.name} has no generation {generation}")
        if record.weight > 0:
            raise Refused(f"{generation} still carries {record.weight}% of traffic")
        if record.lifecycle != Lifecycle.DRAINING.value:
            record.lifecycle = Lifecycle.DRAINING.value
            record.draining_since = iso(utcnow()) or ""
    await drain(backend.haproxy, [i.id for i in record.servers], backend.settings.drain_timeout)
    await delete_servers(backend.haproxy, [i.id for i in record.servers])
    hosts = [HostAddress.parse(h) for h in record.hosts]
    results = await backend.hosts.destroy(generation, hosts)
    failed = {h: r for h, r in results.items() if r is not None}
    async with backend.store.update() as state:
        state.generations = [g for g in state.generations if g.id != generation]
        state.leftovers += [{"host": str(h), "generation": generation} for h in failed]
    await clean_leftovers(backend)
    if failed:
        names = ", ".join(h.display for h in failed)
        first = next(iter(failed.values()))
        raise Unreachable(
            f"{generation} is retired, but its processes and tree remain on {names} "
            f"({first}); they are removed by the next retire that reaches the host"
        )


async def drain(haproxy: Haproxy, names: list[str], timeout: float) -> int:
    """No new traffic to ``names``; wait (at most ``timeout`` seconds) until their
    current sessions finish. Returns the sessions left."""
    if not names:
        return 0
    await haproxy.batch(
        [f"set server {haproxy.server(n)} weight 0" for n in names]
        + [f"set server {haproxy.server(n)} state drain" for n in names],
        check=False,  # a server HAProxy lost in a reload has nothing to drain
    )
    busy = 0
    async for _ in Deadline(timeout).every(0.2):
        stats = await haproxy.servers()
        busy = sum(stats[n].sessions for n in names if n in stats)
        if busy == 0:
            break
    return busy


async def delete_servers(haproxy: Haproxy, names: list[str]) -> None:
    """``state maint`` + ``del server``; connections still attached after the drain are
    shut down, then deletion is retried."""
    left = list(names)
    async for _ in Deadline(DELETE_TIMEOUT).every(0.2):
        left = await haproxy.remove(left)
        if not left:
            return
        await haproxy.batch(
            [f"shutdown sessions server {haproxy.server(n)}" for n in left], check=False
        )
    raise OperationFailed(
        f"HAProxy on {haproxy.lb.name} refused `del server {haproxy.server(left[0])}`: "
        "connections still attached"
    )


async def clean_leftovers(backend: FleetParts) -> None:
    """Remove what earlier retires left on hosts that did not answer then."""
    state = await backend.store.read()
    if not state.leftovers:
        return
    done = []
    for leftover in state.leftovers:
        host = HostAddress.parse(leftover["host"])
        results = await backend.hosts.destroy(leftover["generation"], [host])
        if results[host] is None:
            done.append(leftover)
    if done:
        async with backend.store.update() as state:
            state.leftovers = [x for x in state.leftovers if x not in done]
