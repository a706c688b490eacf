"""Reading a fleet back from AWS: Auto Scaling groups (found by the ``molt:fleet`` tag)
are generations, their instances are Molt's instances, the target groups' health and the
listener's forward action say how they are doing and what traffic they get."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backends.aws import naming
from backends.aws.health import TargetState, instance_health
from backends.core.model import (
    GENERATION_ID,
    Generation,
    Health,
    Instance,
    Lifecycle,
    derive_state,
    parse_iso,
    utcnow,
)

DELETING = "Delete in progress"
#: the ``molt:lifecycle`` tag → Molt's lifecycle
LIFECYCLES = {
    "launching": Lifecycle.LAUNCHING,
    "active": Lifecycle.ACTIVE,
    "failed": Lifecycle.FAILED,
    "draining": Lifecycle.DRAINING,
}


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """One generation's Auto Scaling group, as ``DescribeAutoScalingGroups`` returns it."""

    name: str
    tags: Mapping[str, str]
    generation: str
    number: int
    target_groups: tuple[str, ...]
    desired: int
    created: datetime
    status: str
    template_version: str
    instances: tuple[Mapping[str, Any], ...] = field(default=())
    #: the group's own settings, as Auto Scaling reports them (for drift)
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, group: Mapping[str, Any]) -> GroupRecord | None:
        """None for a group without a valid ``molt:generation`` tag (not Molt's)."""
        tags = naming.tag_map(group.get("Tags"))
        generation = tags.get(naming.GENERATION, "")
        match = GENERATION_ID.match(generation)
        if match is None:
            return None
        created = group.get("CreatedTime")
        if isinstance(created, str):
            created = parse_iso(created)
        if not isinstance(created, datetime):
            created = utcnow()
        return cls(
            name=str(group["AutoScalingGroupName"]),
            tags=tags,
            generation=generation,
            number=int(match.group(1)),
            target_groups=tuple(group.get("TargetGroupARNs") or ()),
            desired=int(group.get("DesiredCapacity") or 0),
            created=created.astimezone(UTC),
            status=str(group.get("Status") or ""),
            template_version=str((group.get("LaunchTemplate") or {}).get("Version", "")),
            instances=tuple(group.get("Instances") or ()),
            settings={
                key: group.get(key)
                for key in ("MinSize", "MaxSize", "HealthCheckType", "HealthCheckGracePeriod")
            },
        )

    @property
    def target_group(self) -> str | None:
        return self.target_groups[0] if self.target_groups else None

    @property
    def version(self) -> str:
        return self.tags.get(naming.VERSION, "")

    @property
    def weight(self) -> int:
        try:
            return int(self.tags.get(naming.WEIGHT, "0"))
        except ValueError:
            return 0

    @property
    def lifecycle_tag(self) -> str:
        return self.tags.get(naming.LIFECYCLE, "active")

    @property
    def lifecycle(self) -> Lifecycle:
        """``launching`` until the launch scaled the group up, ``failed`` when it could
        neither finish nor clean up, ``draining`` once a retire began."""
        if self.status == DELETING:
            return Lifecycle.DRAINING
        return LIFECYCLES.get(self.lifecycle_tag, Lifecycle.ACTIVE)

    @property
    def count(self) -> int:
        try:
            return int(self.tags.get(naming.COUNT, "")) or self.desired
        except ValueError:
            return self.desired

    @property
    def instance_ids(self) -> list[str]:
        return [str(i["InstanceId"]) for i in self.instances]


def to_generation(
    record: GroupRecord,
    targets: Mapping[str, TargetState],
    addresses: Mapping[str, str],
    port: int,
) -> Generation:
    """The model of one generation from its group, its targets and known addresses."""
    registered = record.target_group is not None
    instances = []
    for data in record.instances:
        instance_id = str(data["InstanceId"])
        health, last_check = instance_health(
            str(data.get("LifecycleState", "")),
            str(data.get("HealthStatus", "")),
            targets.get(instance_id),
            registered,
        )
        if not registered and record.lifecycle is Lifecycle.DRAINING:
            health, last_check = Health.GONE, "retiring: detached from the load balancer"
        address = addresses.get(instance_id, "")
        target = targets.get(instance_id)
        instances.append(
            Instance(
                id=instance_id,
                address=f"{address}:{port}" if address else "",
                health=health,
                host=str(data.get("AvailabilityZone", "")),
                last_check=last_check,
                extra={
                    "lifecycle": str(data.get("LifecycleState", "")),
                    "target": target.state if target else "",
                },
            )
        )
    state = derive_state([i.health for i in instances], record.weight, record.lifecycle)
    return Generation(
        id=record.generation,
        version=record.version,
        state=state,
        weight=record.weight,
        launched_at=record.created,
        launched_by=record.tags.get(naming.LAUNCHED_BY, ""),
        note=record.tags.get(naming.NOTE, ""),
        count=record.count,
        instances=tuple(instances),
        artifact=record.tags.get(naming.IMAGE, ""),
        digest=f"launch template version {record.template_version}",
        lifecycle=record.lifecycle,
        extra={
            "auto_scaling_group": record.name,
            "target_group": record.target_group or "",
            "lifecycle": record.lifecycle_tag,
        },
    )


def fleet_records(groups: Sequence[Mapping[str, Any]], fleet: str) -> list[GroupRecord]:
    """The fleet's generations, oldest first (the tag filter already chose the fleet;
    checking again costs nothing and guards against a filter AWS ignored)."""
    records = []
    for group in groups:
        record = GroupRecord.parse(group)
        if record is not None and record.tags.get(naming.FLEET) == fleet:
            records.append(record)
    return sorted(records, key=lambda r: r.number)


# the listener --------------------------------------------------------------------------
def forward_entries(listener: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(target group ARN, weight) of the listener's default forward action, in order;
    empty when the default action is not a forward (e.g. a fixed response)."""
    for action in listener.get("DefaultActions", []):
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            return [(str(g["TargetGroupArn"]), int(g.get("Weight", 1))) for g in groups]
        if action.get("TargetGroupArn"):
            return [(str(action["TargetGroupArn"]), 1)]
    return []


def stickiness(listener: Mapping[str, Any]) -> dict[str, Any]:
    for action in listener.get("DefaultActions", []):
        config = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig")
        if action.get("Type") == "forward" and config:
            return dict(config)
    return {"Enabled": False}


def forward_action(entries: Sequence[tuple[str, int]], sticky: Mapping[str, Any]) -> list[Any]:
    """A listener ``DefaultActions`` value forwarding to weighted target groups (ALB
    weights are 0–999; Molt's percents map onto them directly)."""
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in entries],
                "TargetGroupStickinessConfig": dict(sticky),
            },
        }
    ]
