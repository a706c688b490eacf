"""What one local fleet's verbs work with inside the agent: its settings and store, its
generations and their instances, the proxy, the router and the meter, the lock and the
tasks under way — so :mod:`~backends.local.launching`, :mod:`~backends.local.retiring`,
:mod:`~backends.local.health`, :mod:`~backends.local.traffic` and
:mod:`~backends.local.verifying` need not know the runtime that starts and stops them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from backends.core.broadcast import Broadcast
from backends.core.errors import NotFound
from backends.core.events import Event, StateChanged
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot, GenerationState, utcnow
from backends.local import logs
from backends.local.launch_proofs import JournaledLaunches
from backends.local.members import GenerationRuntime
from backends.local.meter import Meter
from backends.local.proxy import Proxy
from backends.local.routing import Router
from backends.local.settings import LocalSettings
from backends.local.store import Store
from backends.local.wire import Limits, MiB


class FleetParts:
    """One fleet's state in the agent, and the few things every verb asks of it."""

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
        #: held while generations are added, started, shifted or marked draining
        self.lock = asyncio.Lock()
        self.session: aiohttp.ClientSession | None = None
        #: every task the runtime started, cancelled when it closes
        self.tasks: set[asyncio.Task[None]] = set()
        #: launches and retires under way, by generation: joined, never started twice
        self.launching: dict[str, asyncio.Task[None]] = {}
        self.retiring: dict[str, asyncio.Task[None]] = {}
        #: the fleet's locks by name, each held by one Molt's open connection
        #: (see :func:`backends.local.streams.hold_lock`)
        self.leases: dict[str, Lease] = {}
        self.launches = JournaledLaunches(name, store)

    def snapshot(self) -> FleetSnapshot:
        as_of = utcnow()
        return FleetSnapshot(
            fleet=self.name,
            backend="local",
            entry=self.entry,
            generations=tuple(g.to_model(self.meter, as_of) for g in self.generations.values()),
        )

    def generation(self, generation_id: str) -> GenerationRuntime:
        """The generation, unless it is retired or was never launched (:class:`NotFound`)."""
        try:
            return self.generations[generation_id]
        except KeyError:
            raise NotFound(f"fleet {self.name} has no generation {generation_id}") from None

    def log(self, instance_id: str) -> Path:
        """Where the instance's output is written."""
        return logs.log_path(self.home, instance_id)

    def log_of(self, instance_id: str) -> Path:
        """An instance's log (one retired a while ago keeps its log)."""
        path = self.log(instance_id)
        if not path.exists() or "/" in instance_id or instance_id.startswith("."):
            running = [i for g in self.generations.values() for i in g.instances]
            raise NotFound(
                f"fleet {self.name} has no instance {instance_id} "
                f"(running: {', '.join(running) or 'none'}); see `molt status {self.name}`"
            )
        return path

    def publish(self, event: Event) -> None:
        self.events.publish(event)

    def state_changed(
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
