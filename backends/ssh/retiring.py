"""Retiring a generation: weight 0 → ``state drain`` → wait until its servers' sessions
reach 0 (bounded by the drain timeout) → ``state maint`` → ``del server`` → stop its
processes → remove its trees. Every step is safe to do again, so retiring a generation
that is already draining (a retire cut short) resumes it. Hosts that cannot be reached
are remembered in the desired state and cleaned when a later retire finds them
answering again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from backends.contract import Retirement
from backends.core.deadline import Deadline
from backends.core.errors import NotFound, OperationFailed, Unreachable
from backends.core.model import Lifecycle, iso, utcnow
from backends.ssh.haproxy import Haproxy
from backends.ssh.parts import FleetParts
from backends.ssh.settings import HostAddress
from backends.ssh.state import FleetState, GenerationRecord

DELETE_TIMEOUT = 10.0  # after the drain, how long HAProxy may keep connections attached


async def retire_generation(backend: FleetParts, generation: str) -> None:
    await SshRetirement(backend, generation).run()


class HeldInState(Retirement):
    """A retire judged and marked under the lock of the fleet's desired state on the LB
    host (both of SSH's retires: Molt's generations, and the external ``g0``)."""

    def __init__(self, parts: FleetParts, generation: str) -> None:
        super().__init__(generation)
        self.parts = parts
        self._state: FleetState | None = None

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self.parts.store.update() as state:
            self._state = state
            yield


class SshRetirement(HeldInState):
    """A retire on the LB host: the generation judged and marked in the fleet's state
    there, drained and deleted in HAProxy, its processes and trees removed from its
    hosts."""

    def __init__(self, parts: FleetParts, generation: str) -> None:
        super().__init__(parts, generation)
        self._record: GenerationRecord | None = None

    @property
    def record(self) -> GenerationRecord:
        assert self._record is not None, "read in held() first"
        return self._record

    async def carried(self) -> int:
        assert self._state is not None
        self._record = self._state.generation(self.generation)
        if self._record is None:
            raise NotFound(f"fleet {self.parts.name} has no generation {self.generation}")
        return self._record.weight

    async def mark_draining(self) -> None:
        if self.record.lifecycle != Lifecycle.DRAINING.value:
            self.record.lifecycle = Lifecycle.DRAINING.value
            self.record.draining_since = iso(utcnow()) or ""

    async def drain(self) -> None:
        names = [i.id for i in self.record.servers]
        await drain(self.parts.haproxy, names, self.parts.settings.drain_timeout)

    async def destroy(self) -> None:
        parts, generation = self.parts, self.generation
        await delete_servers(parts.haproxy, [i.id for i in self.record.servers])
        hosts = [HostAddress.parse(h) for h in self.record.hosts]
        results = await parts.hosts.destroy(generation, hosts)
        failed = {h: r for h, r in results.items() if r is not None}
        async with parts.store.update() as state:
            state.generations = [g for g in state.generations if g.id != generation]
            state.leftovers += [{"host": str(h), "generation": generation} for h in failed]
        await clean_leftovers(parts)
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
