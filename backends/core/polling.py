"""Events for drivers whose world can only be polled (AWS, HAProxy over SSH): read a
snapshot every so often, turn the differences into typed events, and hand the read
itself to watchers (:class:`~backends.core.events.SnapshotTaken`) so they need not read again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from backends.core.errors import BackendError
from backends.core.events import (
    Event,
    HealthChanged,
    ReadError,
    SnapshotTaken,
    StateChanged,
    WeightsChanged,
)
from backends.core.model import FleetSnapshot, GenerationState, Health, utcnow


def diff_snapshots(before: FleetSnapshot, after: FleetSnapshot) -> list[Event]:
    """Generations launched or gone, state and weight changes, instance health changes."""
    events: list[Event] = []
    fleet, at = after.fleet, after.taken_at
    old = {g.id: g for g in before.generations}
    new = {g.id: g for g in after.generations}
    for generation in after.generations:
        previous = old.get(generation.id)
        if previous is None:
            detail = f"{generation.version} × {generation.count}"
            events.append(
                StateChanged(
                    fleet=fleet,
                    at=at,
                    generation_id=generation.id,
                    before=None,
                    after=generation.state,
                    detail=detail,
                    by=generation.launched_by or None,
                )
            )
            previous_instances = {}
        else:
            if previous.state is not generation.state:
                events.append(
                    StateChanged(
                        fleet=fleet,
                        at=at,
                        generation_id=generation.id,
                        before=previous.state,
                        after=generation.state,
                    )
                )
            previous_instances = {i.id: i for i in previous.instances}
        for instance in generation.instances:
            was = previous_instances.get(instance.id)
            if was is not None and was.health is instance.health:
                continue
            if was is None and previous is None:
                continue  # a new generation's instances come with it
            events.append(
                HealthChanged(
                    fleet=fleet,
                    at=at,
                    generation_id=generation.id,
                    instance_id=instance.id,
                    before=was.health if was else None,
                    after=instance.health,
                    check=instance.last_check if was else "",
                )
            )
        current_ids = {i.id for i in generation.instances}
        for gone in sorted(set(previous_instances) - current_ids):
            events.append(
                HealthChanged(
                    fleet=fleet,
                    at=at,
                    generation_id=generation.id,
                    instance_id=gone,
                    before=previous_instances[gone].health,
                    after=Health.GONE,
                )
            )
    for generation_id in sorted(old.keys() - new.keys()):
        events.append(
            StateChanged(
                fleet=fleet,
                at=at,
                generation_id=generation_id,
                before=old[generation_id].state,
                after=GenerationState.RETIRED,
            )
        )
    kept = set(before.weights) & set(after.weights)
    if any(before.weights[g] != after.weights[g] for g in kept):
        events.append(
            WeightsChanged(
                fleet=fleet,
                at=at,
                before={g: w for g, w in before.weights.items() if g in new},
                after=after.weights,
            )
        )
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
        return [ReadError(fleet=self.fleet, title=error.title, message=error.message)]

    def read(self, snapshot: FleetSnapshot) -> list[Event]:
        events: list[Event] = []
        if self.last_error:
            self.last_error = ""
            events.append(
                ReadError(
                    fleet=self.fleet,
                    title="Reading again",
                    message="reading the fleet again",
                    cleared=True,
                )
            )
        if self.last is not None:
            events += diff_snapshots(self.last, snapshot)
        self.last = snapshot
        events.append(SnapshotTaken(fleet=self.fleet, at=utcnow(), snapshot=snapshot))
        return events


async def poll_events(
    fleet: str,
    read: Callable[[], Awaitable[FleetSnapshot]],
    interval: float,
) -> AsyncIterator[Event]:
    """Yield the differences between successive reads, and each read, forever. A failed
    read is yielded as a :class:`ReadError` (once per distinct message) and retried at
    the next interval."""
    follower = Follower(fleet)
    while True:
        try:
            events = follower.read(await read())
        except BackendError as error:
            events = follower.failed(error)
        for event in events:
            yield event
        await asyncio.sleep(interval)
