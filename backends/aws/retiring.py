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
from backends.aws.health import TargetState
from backends.aws.reading import GroupRecord, forward_entries
from backends.aws.resources import FleetResources, without
from backends.contract import Retirement
from backends.core.deadline import Deadline

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
