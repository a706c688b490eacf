"""What already ran behind the listener when Molt came: the target groups its default
forward action sends to that Molt did not make, shown as one external generation ``g0``.

Molt shifts traffic to and from ``g0`` like any generation, never launches into it and
never deletes its target groups: retiring ``g0`` only takes them off the listener.

Whether the listener still holds such target groups is mirrored in each group's
``molt:external`` tag (written with the weights, at launch and by a retire of ``g0``),
so a refresh reads the listener only while there is an external generation to show
(or while the fleet has no generation of its own yet).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from backends.aws import naming
from backends.aws.health import TargetState
from backends.aws.reading import GroupRecord, forward_entries
from backends.aws.resources import FleetResources
from backends.core.errors import NotFound
from backends.core.model import (
    Generation,
    Health,
    Instance,
    utcnow,
)
from backends.core.traffic import Traffic

_TARGET_HEALTH = {
    "healthy": Health.HEALTHY,
    "unhealthy": Health.UNHEALTHY,
    "draining": Health.GONE,
}
_GENERATION_SUFFIX = re.compile(r"-g([0-9]+)$")


def target_group_name(arn: str) -> str:
    """``arn:…:targetgroup/<name>/<id>`` → ``<name>``."""
    return arn.split(":targetgroup/", 1)[-1].split("/", 1)[0]


def is_molts(arn: str, fleet: str) -> bool:
    """Whether Molt made this target group for one of the fleet's generations: it names
    them (and only them) ``molt-<fleet>-g<N>``, so a launch or retire half done — its
    target group on the listener, not yet or no longer on its group — is still Molt's."""
    name = target_group_name(arn)
    match = _GENERATION_SUFFIX.search(name)
    return match is not None and naming.target_group_name(fleet, int(match.group(1))) == name


def external_entries(
    entries: Sequence[tuple[str, int]], records: Sequence[GroupRecord], fleet: str
) -> list[tuple[str, int]]:
    """The listener's forward entries that are not Molt's: the external generation."""
    owned = {r.target_group for r in records if r.target_group}
    return [(a, w) for a, w in entries if a not in owned and not is_molts(a, fleet)]


def marked(records: Sequence[GroupRecord]) -> bool:
    """Whether Molt last saw an external generation on the listener."""
    return any(r.tags.get(naming.EXTERNAL) == "yes" for r in records)


async def on_listener(
    res: FleetResources, records: Sequence[GroupRecord]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(the listener's forward entries, those of the external generation ``g0``). The
    listener is read only when the groups' ``molt:external`` tags say it holds target
    groups Molt did not make, or when the fleet has no generation yet (an absent
    listener then reads as no ``g0``: a launch names it)."""
    if records and not marked(records):
        return [], []
    try:
        entries = forward_entries(await res.listener())
    except NotFound:
        if records:
            raise
        return [], []
    return entries, external_entries(entries, records, res.fleet)


def percent(part: int, entries: Sequence[tuple[str, int]]) -> int:
    """An ALB weight as Molt's percent: ALB weights are relative (0–999), Molt writes
    percents, so the two agree once Molt has shifted; before, an external group
    forwarding alone at weight 1 carries 100%."""
    total = sum(w for _, w in entries)
    return round(100 * part / total) if total else 0


def spread(weight: int, external: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """``g0``'s percent over its target groups, in the shares they have now (the first
    takes what rounding leaves; all equal when they carry nothing now)."""
    total = sum(w for _, w in external)
    shares = [w if total else 1 for _, w in external]
    whole = sum(shares)
    parts = [weight * s // whole for s in shares]
    parts[0] += weight - sum(parts)
    return [(arn, part) for (arn, _), part in zip(external, parts, strict=True)]


def external_generation(
    external: Sequence[tuple[str, int]],
    entries: Sequence[tuple[str, int]],
    targets: Mapping[str, Mapping[str, TargetState]],
    traffic: Traffic | None,
    first_seen: datetime | None = None,
) -> Generation:
    """``g0``: the external target groups as one generation, their targets as its
    instances (health as the ALB judges it), their weight as a percent."""
    weight = percent(sum(w for _, w in external), entries)
    instances = []
    for arn, _ in external:
        for target_id, target in targets.get(arn, {}).items():
            instances.append(
                Instance(
                    id=target_id,
                    address="",
                    health=_TARGET_HEALTH.get(target.state, Health.PENDING),
                    host=target_group_name(arn),
                    last_check=target.text(),
                    extra={"target": target.state},
                )
            )
    groups = ", ".join(target_group_name(a) for a, _ in external)
    return Generation.adopted(
        tuple(instances),
        weight,
        since=first_seen or utcnow(),
        what=f"target group {groups} on the listener",
        traffic=traffic,
        extra={
            "target_group": external[0][0],
            "target_groups": " ".join(a for a, _ in external),
        },
    )
