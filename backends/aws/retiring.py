"""Retiring a generation on AWS: it must carry no traffic; its targets drain (bounded by
the deregistration delay), then its target group and Auto Scaling group are deleted.
The launch template version stays, for history.

The group goes last: it is what ``molt status`` finds, so a retire interrupted at any
point leaves a visible ``draining`` generation, never an orphaned target group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from backends.aws import naming
from backends.aws.health import TargetState
from backends.aws.reading import GroupRecord, forward_entries
from backends.aws.resources import FleetResources, without
from backends.core.deadline import Deadline
from backends.core.errors import Refused

#: targets may outlive the deregistration delay by a moment before the ALB drops them
DRAIN_MARGIN = 5.0

ReadTargets = Callable[[GroupRecord, str], Awaitable[Mapping[str, TargetState]]]


async def retire(
    res: FleetResources, record: GroupRecord, read_targets: ReadTargets, every: float
) -> None:
    generation = record.generation
    entries = forward_entries(await res.listener())
    target_group = record.target_group or await res.target_group_by_name(
        naming.target_group_name(res.fleet, record.number)
    )
    on_listener = dict(entries).get(target_group, 0) if target_group else 0
    if record.weight > 0 or on_listener > 0:
        weight = max(record.weight, on_listener)
        raise Refused(
            f"{generation} still carries {weight}% of traffic on the listener; shift it to 0 "
            "(or promote another generation) before retiring it"
        )
    await res.tag_group(record.name, {naming.LIFECYCLE: "draining"})
    if record.target_group:
        await res.api.call(
            "autoscaling",
            "detach_load_balancer_target_groups",
            f"Auto Scaling group {record.name}",
            AutoScalingGroupName=record.name,
            TargetGroupARNs=[record.target_group],
        )
        await _wait_drained(res, record, record.target_group, read_targets, every)
    if target_group:
        listener = await res.listener()
        entries = forward_entries(listener)
        if target_group in dict(entries):
            await res.set_forward(listener, without(entries, [target_group]))
        await res.delete_target_group(target_group)
    await res.delete_group(record.name)
    await res.wait_group_gone(record.name, res.settings.retire_timeout, every)


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
