"""Traffic on AWS: the ALB listener's default action forwards to the generations'
target groups by weight, and each group's ``molt:weight`` tag records what Molt set —
a mirror that says when someone changed the listener by hand, and what ``molt apply``
puts back."""

from __future__ import annotations

from collections.abc import Mapping

from backends.aws import naming
from backends.aws.reading import forward_entries
from backends.aws.resources import FleetResources
from backends.contract import check_complete
from backends.core.errors import BackendError, OperationFailed
from backends.core.guards import check_keeps_healthy_traffic, check_takes_traffic
from backends.core.model import FleetSnapshot


async def set_weights(res: FleetResources, weights: dict[str, int]) -> None:
    """The listener forwards ``weights`` (complete: every generation), then each group's
    tag records it."""
    records = await res.groups()
    complete = check_complete(weights, [r.generation for r in records])
    for record in records:
        attached = record.target_group is not None
        weight = complete[record.generation]
        check_takes_traffic(record.generation, record.lifecycle, weight, attached=attached)
    total = sum(complete.values())
    listener = await res.listener()
    ours = [(r.target_group, complete[r.generation]) for r in records if r.target_group]
    owned = {arn for arn, _ in ours}
    # Molt owns the default action: once its generations carry the traffic, any
    # target group it found there before its first launch is dropped
    found = forward_entries(listener)
    foreign = [] if total else [(a, w) for a, w in found if a not in owned]
    await res.set_forward(listener, [*foreign, *ours])
    try:
        await res.tag_groups(
            {r.name: {naming.WEIGHT: str(complete[r.generation])} for r in records}
        )
    except BackendError as error:
        raise OperationFailed(
            f"the listener now sends {shown(complete)}, but recording that on the "
            f"Auto Scaling groups failed ({error.message}); run the same shift again"
        ) from error


async def differences(res: FleetResources, snapshot: FleetSnapshot) -> tuple[str, ...]:
    """The listener's weights against the ``molt:weight`` tags Molt recorded with its
    last shift: one ``DescribeListeners`` (so not in every snapshot; the TUI sees it
    as drift when it verifies). A read: nothing is written."""
    found = listener_differences(snapshot, forward_entries(await res.listener()))
    if not found:
        return snapshot.differences
    line = f"{'; '.join(found)}; `molt apply {res.fleet}` sets it back"
    return (*snapshot.differences, line)


async def apply(res: FleetResources, snapshot: FleetSnapshot) -> tuple[str, ...]:
    """The listener's weights set back to those Molt recorded (the tags, as
    ``snapshot`` read them), checked against the listener as read right before the
    change (``set_forward``). Refused when that would take the traffic off every
    generation with a healthy instance that carries it now."""
    listener = await res.listener()
    entries = forward_entries(listener)
    if not listener_differences(snapshot, entries):
        return ()
    groups = {g.id: str(g.extra.get("target_group") or "") for g in snapshot.generations}
    ours = [(arn, snapshot.weights[g]) for g, arn in groups.items() if arn]
    owned = {arn for arn, _ in ours}
    foreign = [] if sum(w for _, w in ours) else [(a, w) for a, w in entries if a not in owned]
    # a target group serves if it is not Molt's (Molt cannot tell) or has a healthy target
    serving = {a for a, _ in entries if a not in owned} | {
        groups[g.id] for g in snapshot.generations if g.healthy_count()
    }
    now = [a for a, w in entries if w > 0 and a in serving]
    after = [a for a, w in [*foreign, *ours] if w > 0 and a in serving]
    change = f"setting the listener back to {shown(snapshot.weights)}"
    check_keeps_healthy_traffic(now, after, change=change)
    await res.set_forward(listener, [*foreign, *ours])
    return (f"the listener sends {shown(snapshot.weights)} again, as Molt recorded",)


def listener_differences(snapshot: FleetSnapshot, entries: list[tuple[str, int]]) -> list[str]:
    """Where the listener's forward weights differ from the weights Molt recorded: per
    generation, and any target group Molt does not own still carrying traffic once Molt's
    generations carry it."""
    on_listener = dict(entries)
    found = []
    owned = set()
    for generation in snapshot.generations:
        arn = str(generation.extra.get("target_group") or "")
        if not arn:
            continue
        owned.add(arn)
        weight = on_listener.get(arn, 0)
        if weight != generation.weight:
            found.append(
                f"the listener sends {generation.id} {weight}%, Molt set {generation.weight}%"
            )
    if sum(snapshot.weights.values()):
        foreign = [a for a, w in entries if a not in owned and w > 0]
        if foreign:
            found.append(f"the listener sends traffic to {len(foreign)} target groups not Molt's")
    return found


def shown(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())
