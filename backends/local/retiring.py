"""Retiring a local generation: marked ``draining`` (the proxy sends it nothing new),
its in-flight requests waited for (bounded by the drain timeout), then its processes
stopped, its tree removed and its record marked retired. The agent finishes a retire
it finds cut short when it starts; a second retire while one runs waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from backends.contract import Retirement
from backends.core.deadline import Deadline
from backends.core.model import GenerationState, Lifecycle
from backends.local import processes
from backends.local.members import GenerationRuntime
from backends.local.parts import FleetParts
from backends.local.processes import STOP_GRACE
from backends.local.traffic import reroute
from backends.local.trees import remove_tree

DRAIN_EVERY = 0.05  # how often the proxy's in-flight count is looked at while draining


async def retire(fleet: FleetParts, generation_id: str) -> None:
    """Drain and destroy; a second call while that runs waits for the same retire."""
    retirement = LocalRetirement(fleet, generation_id)
    await retirement.start_draining()
    await asyncio.shield(retire_task(fleet, retirement.generation_runtime))
    # the caller leaving must not stop a retire half way


def retire_task(fleet: FleetParts, generation: GenerationRuntime) -> asyncio.Task[None]:
    """The retire of a draining generation, started once and joined by every caller."""
    task = fleet.retiring.get(generation.row.id)
    if task is None:
        retirement = LocalRetirement(fleet, generation.row.id, generation)
        task = asyncio.ensure_future(retirement.finish())
        fleet.retiring[generation.row.id] = task
        fleet.tasks.add(task)
        task.add_done_callback(fleet.tasks.discard)
    return task


class LocalRetirement(Retirement):
    """A retire inside the agent: judged and marked under the fleet's lock, drained by
    the proxy's in-flight count."""

    def __init__(
        self, fleet: FleetParts, generation: str, found: GenerationRuntime | None = None
    ) -> None:
        super().__init__(generation)
        self.fleet = fleet
        self._found = found

    @property
    def generation_runtime(self) -> GenerationRuntime:
        assert self._found is not None, "read in held() first"
        return self._found

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self.fleet.lock:
            yield

    async def carried(self) -> int:
        self._found = self.fleet.generation(self.generation)
        return self._found.row.weight

    async def mark_draining(self) -> None:
        fleet, generation = self.fleet, self.generation_runtime
        if generation.lifecycle is not Lifecycle.DRAINING:
            was = generation.to_model().state
            generation.row.lifecycle = Lifecycle.DRAINING.value
            fleet.store.set_lifecycle(fleet.name, self.generation, generation.row.lifecycle)
            reroute(fleet)
            fleet.state_changed(self.generation, was, GenerationState.DRAINING)

    async def drain(self) -> None:
        fleet, generation_id = self.fleet, self.generation
        async for _ in Deadline(fleet.settings.drain_timeout).every(DRAIN_EVERY):
            if fleet.proxy.in_flight[generation_id] == 0:
                break
        left = fleet.proxy.in_flight[generation_id]
        if left:
            detail = f"drain timeout, {left} requests still in flight"
            fleet.state_changed(
                generation_id, GenerationState.DRAINING, GenerationState.DRAINING, detail
            )

    async def destroy(self) -> None:
        await destroy(self.fleet, self.generation_runtime, reason="")


async def destroy(fleet: FleetParts, generation: GenerationRuntime, reason: str) -> None:
    """Stop its processes, remove its tree, mark it retired (``reason``: why, when
    it was not an operator's retire)."""
    was = generation.to_model().state
    for instance in generation.instances.values():
        if instance.task is not None:
            instance.task.cancel()
    running = [i.process for i in generation.instances.values()]
    await asyncio.to_thread(processes.stop, running, STOP_GRACE)
    await asyncio.to_thread(remove_tree, fleet.home / generation.row.id)
    for instance_id in generation.instances:
        fleet.meter.forget(instance_id)
    generation.row.lifecycle = Lifecycle.RETIRED.value
    fleet.store.set_lifecycle(fleet.name, generation.row.id, generation.row.lifecycle)
    fleet.store.delete_instances(fleet.name, generation.row.id)
    fleet.generations.pop(generation.row.id, None)
    reroute(fleet)
    fleet.state_changed(generation.row.id, was, GenerationState.RETIRED, reason)
