"""One local fleet inside the agent: its generations' processes, health and proxy.

The store holds what must survive the agent; this holds what is re-derived at start
(process handles, health counters, the routing table). What the fleet does is written
by verb, each in its own module: :mod:`~backends.local.launching`,
:mod:`~backends.local.retiring`, :mod:`~backends.local.health`,
:mod:`~backends.local.traffic` and :mod:`~backends.local.verifying`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any

import aiohttp

from backends.core.errors import Refused
from backends.core.events import ReadError
from backends.core.model import (
    DriftReport,
    Generation,
    GenerationSpec,
    Health,
    Lifecycle,
    parse_iso,
)
from backends.local import health, launching, processes, retiring, traffic, verifying
from backends.local.instances import new_judge
from backends.local.members import GenerationRuntime, InstanceRuntime
from backends.local.parts import FleetParts
from backends.local.processes import STOP_GRACE
from backends.local.settings import LocalSettings, split_address
from backends.local.store import InstanceRow
from backends.local.wire import MiB


class FleetRuntime(FleetParts):
    """Supervises one fleet's instances, checks their health and routes its traffic:
    starts, adopts and stops what :class:`FleetParts` holds, and lends it to the verbs."""

    # life of the runtime -------------------------------------------------------------
    async def start(self, last_entry: str) -> None:
        """Re-adopt what is running, restart what is not, open the proxy."""
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True)
        )
        for row in self.store.generations(self.name):
            generation = GenerationRuntime(row=row, tree=self.home / row.id / "tree")
            self.generations[row.id] = generation
            for saved in self.store.instances(self.name, row.id):
                self._adopt(generation, saved)
        traffic.reroute(self)
        await self._open_proxy(last_entry)
        self._spawn_task(health.supervise(self))
        for generation in list(self.generations.values()):
            if generation.lifecycle is Lifecycle.DRAINING:  # the agent died mid-retire
                retiring.retire_task(self, generation)
            elif generation.lifecycle is Lifecycle.LAUNCHING:  # ... or mid-launch
                launching.launch_task(self, generation)

    def _adopt(self, generation: GenerationRuntime, saved: InstanceRow) -> None:
        process = processes.Process(
            pid=saved.pid,
            started=saved.started,
            marks=processes.marks(self.home, self.name, saved.id),
        )
        judge = new_judge(self)
        instance = InstanceRuntime(
            id=saved.id, generation=generation.row.id, port=saved.port, process=process, judge=judge
        )
        if process.alive():
            # keep the last judged health so the proxy serves at once; checks resume now
            judge.health = Health(saved.health)
            instance.healthy_since = parse_iso(saved.healthy_since)
        generation.instances[saved.id] = instance
        health.start_checks(self, instance)

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
        settings = self.settings.health
        for generation in self.generations.values():
            for instance in generation.instances.values():
                judge = instance.judge
                judge.healthy_threshold = settings.healthy_threshold
                judge.unhealthy_threshold = settings.unhealthy_threshold
                judge.start_period = settings.start_period
                if instance.task is not None:
                    instance.task.cancel()
                    health.start_checks(self, instance)

    async def close(self) -> None:
        """Stop watching and proxying; the instances keep running."""
        for task in list(self.tasks):
            task.cancel()
        for generation in self.generations.values():
            for instance in generation.instances.values():
                if instance.task is not None:
                    instance.task.cancel()
        await self.proxy.close()
        if self.session is not None:
            await self.session.close()

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
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # the verbs -------------------------------------------------------------------------
    async def launch(self, spec: GenerationSpec, resume: str | None = None) -> Generation:
        """See :func:`backends.local.launching.launch`."""
        return await launching.launch(self, spec, resume)

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        """See :func:`backends.local.traffic.set_weights`."""
        await traffic.set_weights(self, weights)

    async def retire(self, generation_id: str) -> None:
        """See :func:`backends.local.retiring.retire`."""
        await retiring.retire(self, generation_id)

    async def frozen(self, generation_id: str) -> dict[str, Any]:
        """See :func:`backends.local.verifying.frozen`."""
        return await verifying.frozen(self, generation_id)

    async def verify(self, generation_id: str) -> DriftReport:
        """See :func:`backends.local.verifying.verify`."""
        return await verifying.verify(self, generation_id)

    def journaled(self, line: str, seq: int) -> None:
        """The agent stored ``line`` (sequence number ``seq``) on this fleet's journal."""
        self.launches.journaled(line, seq)
