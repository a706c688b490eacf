"""Launching a generation on AWS, and undoing a launch that fails half way.

The Auto Scaling group is made first, empty and tagged: it is the generation's anchor,
the one resource ``molt status`` finds by tag. Everything after it (target group,
listener entry, capacity) is found from it, so a launch interrupted at any point leaves
either nothing but a kept launch template version, or a visible, retire-able generation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backends.aws import naming
from backends.aws.adopted import external_entries
from backends.aws.reading import forward_entries
from backends.aws.resources import FleetResources, without
from backends.aws.settings import MAX_FORWARD_TARGET_GROUPS
from backends.core.errors import BackendError, ConfigError, OperationFailed, Refused
from backends.core.model import Generation, GenerationSpec, GenerationState, utcnow


@dataclass(slots=True)
class Made:
    """What a launch has made so far, for undoing it."""

    group: str
    listener_before: tuple[Mapping[str, Any], ...] = ()
    target_group: str | None = None
    on_listener: bool = False


async def launch(
    res: FleetResources, spec: GenerationSpec, resume: str | None = None
) -> Generation:
    """A new generation, or (``resume``) the rest of a launch that was cut short: every
    step after the anchor group is done only if it is not done yet."""
    if resume is not None:
        return await _resume(res, resume)
    image, count, before = await _preflight(res, spec)
    number = await res.new_template_version(image, spec)
    generation = f"g{number}"
    tags = naming.GenerationTags(
        fleet=res.fleet,
        generation=generation,
        version=spec.version,
        launched_by=spec.launched_by,
        note=spec.note,
        image=image,
        count=count,
    )
    made = Made(
        group=naming.group_name(res.fleet, number),
        listener_before=tuple(before.get("DefaultActions", ())),
    )
    # whether the listener also forwards elsewhere (g0), mirrored like the weights
    adopting = bool(external_entries(forward_entries(before), [], res.fleet))
    await _create_group(res, made.group, number, tags, adopting=adopting)
    return await _finish(res, made, number, tags)


async def _resume(res: FleetResources, generation: str) -> Generation:
    record = await res.group(generation)
    tags = naming.GenerationTags(
        fleet=res.fleet,
        generation=generation,
        version=record.version,
        launched_by=record.tags.get(naming.LAUNCHED_BY, ""),
        note=record.tags.get(naming.NOTE, ""),
        image=record.tags.get(naming.IMAGE, ""),
        count=record.count,
    )
    before = await res.listener()
    made = Made(group=record.name, listener_before=tuple(before.get("DefaultActions", ())))
    return await _finish(res, made, record.number, tags)


async def _finish(
    res: FleetResources, made: Made, number: int, tags: naming.GenerationTags
) -> Generation:
    generation = tags.generation
    try:
        await _complete(res, made, number, tags)
    except BackendError as error:
        failure = await _undo(res, made, generation, error)
        if failure is None:
            error.message = f"launch of {generation} failed, nothing left behind: {error.message}"
            raise
        raise failure from error
    return Generation(
        id=generation,
        version=tags.version,
        state=GenerationState.LAUNCHING,
        weight=0,
        launched_at=utcnow(),
        launched_by=tags.launched_by,
        note=tags.note,
        count=tags.count,
        artifact=tags.image,
        digest=f"launch template version {number}",
        extra={"auto_scaling_group": made.group, "target_group": made.target_group or ""},
    )


async def _preflight(
    res: FleetResources, spec: GenerationSpec
) -> tuple[str, int, Mapping[str, Any]]:
    """(AMI, count, the listener): a missing listener, AMI or subnet is named here,
    before anything is made."""
    image = spec.artifact or res.settings.image
    if not image:
        raise ConfigError("no AMI to launch: pass --image ami-… (or set image in molt.toml)")
    listener = await res.listener()
    entries = forward_entries(listener)
    if len(entries) >= MAX_FORWARD_TARGET_GROUPS:
        raise Refused(
            f"the listener already forwards to {len(entries)} target groups, ALB's limit "
            f"for one action; retire a generation of {res.fleet} first"
        )
    await res.check_image(image)
    await res.check_subnets()
    return image, spec.count or res.settings.count, listener


async def _complete(
    res: FleetResources, made: Made, number: int, tags: naming.GenerationTags
) -> None:
    """Target group, its place (weight 0) in the listener — which is what makes the ALB
    health-check it — then the group attached to it and scaled up."""
    target_group = await _create_target_group(res, made, number, tags)
    listener = await res.listener()
    entries = forward_entries(listener)
    if target_group not in dict(entries):
        await res.set_forward(listener, [*entries, (target_group, 0)])
    made.on_listener = True
    what = f"Auto Scaling group {made.group}"
    await res.api.call(
        "autoscaling",
        "attach_load_balancer_target_groups",
        what,
        AutoScalingGroupName=made.group,
        TargetGroupARNs=[target_group],
    )
    await res.api.call(
        "autoscaling",
        "update_auto_scaling_group",
        what,
        AutoScalingGroupName=made.group,
        MinSize=tags.count,
        MaxSize=tags.count,
        DesiredCapacity=tags.count,
    )
    await res.tag_group(made.group, {naming.LIFECYCLE: "active"})


async def _create_group(
    res: FleetResources, name: str, number: int, tags: naming.GenerationTags, *, adopting: bool
) -> None:
    """The anchor: an empty group on the new template version, tagged ``launching``."""
    settings = res.settings
    template = naming.template_name(res.fleet)
    await res.api.call(
        "autoscaling",
        "create_auto_scaling_group",
        f"Auto Scaling group {name}",
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": str(number)},
        MinSize=0,
        MaxSize=0,
        DesiredCapacity=0,
        VPCZoneIdentifier=",".join(settings.subnets),
        HealthCheckType="ELB",
        HealthCheckGracePeriod=settings.health.grace_period,
        Tags=naming.group_tags(
            name,
            {
                **tags.for_group(weight=0, lifecycle="launching"),
                naming.EXTERNAL: "yes" if adopting else "no",
            },
        ),
    )


async def _create_target_group(
    res: FleetResources, made: Made, number: int, tags: naming.GenerationTags
) -> str:
    """The generation's target group, recorded in ``made`` as soon as it exists."""
    settings = res.settings
    health = settings.health
    name = naming.target_group_name(res.fleet, number)
    existing = await res.target_group_by_name(name)  # made by a launch cut short
    if existing is not None:
        made.target_group = existing
        return existing
    created = await res.api.call(
        "elbv2",
        "create_target_group",
        f"target group {name}",
        Name=name,
        Protocol=settings.protocol,
        Port=settings.port,
        VpcId=settings.vpc_id,
        TargetType="instance",
        HealthCheckProtocol=settings.protocol,
        HealthCheckPath=health.path,
        HealthCheckIntervalSeconds=health.interval,
        HealthCheckTimeoutSeconds=health.timeout,
        HealthyThresholdCount=health.healthy_threshold,
        UnhealthyThresholdCount=health.unhealthy_threshold,
        Matcher={"HttpCode": health.matcher},
        Tags=naming.elb_tags(tags.identity()),
    )
    arn = made.target_group = str(created["TargetGroups"][0]["TargetGroupArn"])
    await res.api.call(
        "elbv2",
        "modify_target_group_attributes",
        f"target group {name}",
        TargetGroupArn=arn,
        Attributes=[
            {
                "Key": "deregistration_delay.timeout_seconds",
                "Value": str(settings.deregistration_delay),
            }
        ],
    )
    return arn


async def _undo(
    res: FleetResources, made: Made, generation: str, error: BackendError
) -> BackendError | None:
    """Remove what the failed launch made (None when that worked). If that fails too,
    leave the group tagged ``failed`` so the generation shows as failed and can be
    retired, and return the error saying so."""
    try:
        if made.on_listener and made.target_group:
            listener = await res.listener()
            left = without(forward_entries(listener), [made.target_group])
            await res.set_forward(listener, left, otherwise=made.listener_before)
        if made.target_group:
            await res.delete_target_group(made.target_group)
        await res.delete_group(made.group)
    except BackendError as cleanup:
        with contextlib.suppress(BackendError):
            await res.tag_group(made.group, {naming.LIFECYCLE: "failed"})
        return OperationFailed(
            f"launch of {generation} failed: {error.message}; cleaning up failed too "
            f"({cleanup.message}), so {generation} is left as a failed generation — "
            f"retire it with `molt retire {res.fleet} {generation}`"
        )
    return None
