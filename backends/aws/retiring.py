"""Retiring a generation on AWS: it must carry no traffic; its targets drain (bounded by
the deregistration delay), then its target group and Auto Scaling group are deleted.
The launch template version stays, for history.

The group goes last: it is what ``molt status`` finds, so a retire interrupted at any
point leaves a visible ``draining`` generation, never an orphaned target group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from backends.aws import naming
from backends.aws.adopted import external_entries, percent
from backends.aws.health import TargetState
from backends.aws.reading import GroupRecord, forward_entries
from backends.aws.resources import FleetResources, without
from backends.contract import Retirement
from backends.core.deadline import Deadline
from backends.core.guards import check_external_present
from backends.core.model import EXTERNAL_GENERATION

#: targets may outlive the deregistration delay by a moment before the ALB drops them
DRAIN_MARGIN = 5.0

ReadTargets = Callable[[GroupRecord, str], Awaitable[Mapping[str, TargetState]]]


async def retire(
    res: FleetResources, record: GroupRecord, read_targets: ReadTargets, every: float
) -> None:
    await AwsRetirement(res, record, read_targets, every).run()


class AwsRetirement(Retirement):
    """A retire on AWS: judged on the listener as it is now, marked by the group's
    lifecycle tag, drained by detaching its target group, destroyed group last."""

    where = "on the listener"

    def __init__(
        self, res: FleetResources, record: GroupRecord, read_targets: ReadTargets, every: float
    ) -> None:
        super().__init__(record.generation)
        self.res = res
        self.record = record
        self.read_targets = read_targets
        self.every = every
        self.target_group: str | None = None

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        yield  # the fleet lock, taken by whoever asked, is all the hold there is

    async def carried(self) -> int:
        res, record = self.res, self.record
        entries = forward_entries(await res.listener())
        self.target_group = record.target_group or await res.target_group_by_name(
            naming.target_group_name(res.fleet, record.number)
        )
        on_listener = dict(entries).get(self.target_group, 0) if self.target_group else 0
        return max(record.weight, on_listener)

    async def mark_draining(self) -> None:
        await self.res.tag_group(self.record.name, {naming.LIFECYCLE: "draining"})

    async def drain(self) -> None:
        res, record = self.res, self.record
        if record.target_group:
            await res.api.call(
                "autoscaling",
                "detach_load_balancer_target_groups",
                f"Auto Scaling group {record.name}",
                AutoScalingGroupName=record.name,
                TargetGroupARNs=[record.target_group],
            )
            await _wait_drained(res, record, record.target_group, self.read_targets, self.every)

    async def destroy(self) -> None:
        res, record, target_group = self.res, self.record, self.target_group
        if target_group:
            listener = await res.listener()
            entries = forward_entries(listener)
            if target_group in dict(entries):
                await res.set_forward(listener, without(entries, [target_group]))
            await res.delete_target_group(target_group)
        await res.delete_group(record.name)
        await res.wait_group_gone(record.name, res.settings.retire_timeout, self.every)


async def _wait_drained(
    res: FleetResources,
    record: GroupRecord,
    target_group: str,
    read_targets: ReadTargets,
    every: float,
) -> None:
    """Wait while any target is ``draining``; never longer than the deregistration
    delay (plus a margin), after which the ALB has cut its connections anyway."""
    deadline = Deadline(res.settings.deregistration_delay + DRAIN_MARGIN)
    async for _ in deadline.every(every):
        targets = await read_targets(record, target_group)
        if not any(t.state == "draining" for t in targets.values()):
            return


async def retire_external(res: FleetResources) -> None:
    """Retire the external generation ``g0``: its target groups come off the listener,
    once it carries no traffic there. Nothing else: Molt did not make them, so it never
    deletes them or touches their targets."""
    await ExternalRetirement(res).run()


class ExternalRetirement(Retirement):
    """``g0``'s retire: judged on the listener as it is now; taking it off the listener
    is the whole of it."""

    where = "on the listener"

    def __init__(self, res: FleetResources) -> None:
        super().__init__(EXTERNAL_GENERATION)
        self.res = res

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        yield  # the fleet lock, taken by whoever asked, is all the hold there is

    async def carried(self) -> int:
        records = await self.res.groups()
        entries = forward_entries(await self.res.listener())
        external = external_entries(entries, records, self.res.fleet)
        check_external_present(self.res.fleet, bool(external))
        return percent(sum(w for _, w in external), entries)

    async def mark_draining(self) -> None:
        records = await self.res.groups()
        listener = await self.res.listener()
        entries = forward_entries(listener)
        external = external_entries(entries, records, self.res.fleet)
        await self.res.set_forward(listener, without(entries, [a for a, _ in external]))
        await self.res.tag_groups({r.name: {naming.EXTERNAL: "no"} for r in records})

    async def drain(self) -> None:
        """Nothing to wait for: it carried no traffic, and its targets are not Molt's."""

    async def destroy(self) -> None:
        """Nothing to destroy: its target groups and instances are not Molt's."""
