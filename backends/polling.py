"""Events for drivers whose world can only be polled (AWS, HAProxy over SSH): read a
snapshot every so often and turn the differences into the events ``watch()`` yields."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from backends.errors import BackendError
from backends.model import Event, EventKind, FleetSnapshot, utcnow


def diff_snapshots(before: FleetSnapshot, after: FleetSnapshot) -> list[Event]:
    """Generations launched or gone, state and weight changes, instance health changes."""
    events: list[Event] = []
    fleet = after.fleet

    def add(
        kind: EventKind, message: str, generation: str | None = None, instance: str | None = None
    ) -> None:
        events.append(Event(after.taken_at, fleet, kind, message, generation, instance))

    old = {g.id: g for g in before.generations}
    new = {g.id: g for g in after.generations}
    for generation in after.generations:
        previous = old.get(generation.id)
        if previous is None:
            add(
                EventKind.STATE,
                f"{generation.id} appeared: {generation.version} × {generation.count}",
                generation.id,
            )
            previous_instances = {}
        else:
            if previous.state is not generation.state:
                add(
                    EventKind.STATE,
                    f"{generation.id} {previous.state.value} → {generation.state.value}",
                    generation.id,
                )
            previous_instances = {i.id: i for i in previous.instances}
        for instance in generation.instances:
            was = previous_instances.get(instance.id)
            if was is None:
                if previous is not None:
                    add(
                        EventKind.HEALTH,
                        f"{instance.id} appeared ({instance.health.value})",
                        generation.id,
                        instance.id,
                    )
            elif was.health is not instance.health:
                detail = f"  {instance.last_check}" if instance.last_check else ""
                add(
                    EventKind.HEALTH,
                    f"{instance.id} {was.health.value} → {instance.health.value}{detail}",
                    generation.id,
                    instance.id,
                )
        current_ids = {i.id for i in generation.instances}
        for gone in sorted(set(previous_instances) - current_ids):
            add(EventKind.HEALTH, f"{gone} gone", generation.id, gone)
    for generation_id in old.keys() - new.keys():
        add(EventKind.STATE, f"{generation_id} retired", generation_id)
    kept = set(before.weights) & set(after.weights)
    if any(before.weights[g] != after.weights[g] for g in kept):
        shown = " ".join(f"{g}={w}" for g, w in after.weights.items())
        add(EventKind.WEIGHTS, f"weights {shown}")
    return events


class Follower:
    """Turns successive reads (or failed reads) of a fleet into events: differences
    between snapshots, a failure once per distinct message, and the recovery."""

    def __init__(self, fleet: str) -> None:
        self.fleet = fleet
        self.last: FleetSnapshot | None = None
        self.last_error = ""

    def failed(self, error: BackendError) -> list[Event]:
        if error.message == self.last_error:
            return []
        self.last_error = error.message
        return [Event(utcnow(), self.fleet, EventKind.ERROR, f"{error.title}: {error.message}")]

    def read(self, snapshot: FleetSnapshot) -> list[Event]:
        events = []
        if self.last_error:
            self.last_error = ""
            events.append(Event(utcnow(), self.fleet, EventKind.STATE, "reading the fleet again"))
        if self.last is not None:
            events += diff_snapshots(self.last, snapshot)
        self.last = snapshot
        return events


async def poll_events(
    fleet: str,
    read: Callable[[], Awaitable[FleetSnapshot]],
    interval: float,
) -> AsyncIterator[Event]:
    """Yield the differences between successive reads, forever. A failed read is yielded
    as an ``error`` event (once per distinct message) and retried at the next interval."""
    follower = Follower(fleet)
    while True:
        try:
            events = follower.read(await read())
        except BackendError as error:
            events = follower.failed(error)
        for event in events:
            yield event
        await asyncio.sleep(interval)
