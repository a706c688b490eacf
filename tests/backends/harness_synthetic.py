"""The synthetic backend's rig: the in-memory fleet behind most TUI tests, held to the
same contract as the real drivers so the TUI tests stand on a faithful stand-in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from backends.contract import Backend
from backends.core.events import Event
from backends.core.model import Lifecycle
from tests.backends.harness import Harness
from tests.support.synthetic import SyntheticBackend


def fingerprint(backend: SyntheticBackend) -> object:
    """Every generation (retired ones too) with its instances, every journal write, the
    locks and what instances printed: all the world there is."""
    generations = [
        (g.id, g.version, g.count, g.weight, g.lifecycle, tuple(g.instances))
        for g in backend.generations.values()
    ]
    leases = sorted(backend.leases.items())
    printed = sorted((i, tuple(lines)) for i, lines in backend.printed.items())
    return generations, list(backend.memory.writes), leases, printed


def listening(backend: Backend, events: list[Event]) -> bool:
    """The watch of ``backend`` is subscribed to the fleet's events."""
    assert isinstance(backend, SyntheticBackend)
    return backend.watchers > 0


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    backend = SyntheticBackend("contract", auto_health=0.05)
    opened = [backend]

    def reopen(read_only: bool) -> SyntheticBackend:
        opened.append(backend.reopened(read_only=read_only))
        return opened[-1]

    async def look() -> object:
        return fingerprint(backend)

    async def drain(generation: str) -> None:
        # as a retire cut short leaves it: draining, its instances still there
        backend.generations[generation].lifecycle = Lifecycle.DRAINING

    try:
        yield Harness(backend, "contract", reopen, look, drain, listening)
    finally:
        for each in opened:
            await each.close()
