"""Traffic on AWS: the ALB listener's default action forwards to the generations'
target groups by weight, and each group's ``molt:weight`` tag records what Molt set —
a mirror that says when someone changed the listener by hand, and what ``molt apply``
puts back."""

from __future__ import annotations

from collections.abc import Mapping

from backends.aws import naming
from backends.aws.adopted import external_entries, spread
from backends.aws.reading import forward_entries
from backends.aws.resources import FleetResources
from backends.contract import check_complete
from backends.core.errors import BackendError, OperationFailed
from backends.core.guards import (
    check_external_named,
    check_keeps_healthy_traffic,
    check_takes_traffic,
)
from backends.core.model import EXTERNAL_GENERATION, FleetSnapshot


async def set_weights(res: FleetResources, weights: dict[str, int]) -> None:
    """The listener forwards ``weights`` (complete: every generation, ``g0`` included
    when the listener holds target groups Molt did not make), then each group's tags
    record it."""
    records = await res.groups()
    listener = await res.listener()
    found = forward_entries(listener)
    external = external_entries(found, records, res.fleet)
    adopting = EXTERNAL_GENERATION in weights and bool(external)
    if external and not adopting:  # say it in the mirror, so the next read shows g0
        await res.tag_groups({r.name: {naming.EXTERNAL: "yes"} for r in records})
    check_external_named(res.fleet, bool(external), adopting)
    names = [r.generation for r in records]
    complete = check_complete(weights, [EXTERNAL_GENERATION, *names] if adopting else names)
    for record in records:
        attached = record.target_group is not None
        weight = complete[record.generation]
        check_takes_traffic(record.generation, record.lifecycle, weight, attached=attached)
    ours = [(r.target_group, complete[r.generation]) for r in records if r.target_group]
    # the external generation is shifted like any other, never dropped
    kept = spread(complete[EXTERNAL_GENERATION], external) if adopting else []
    await res.set_forward(listener, [*kept, *ours])
    still = "yes" if kept else "no"
    try:
        await res.tag_groups(
            {
                r.name: {naming.WEIGHT: str(complete[r.generation]), naming.EXTERNAL: still}
                for r in records
            }
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
    groups = {
        g.id: str(g.extra.get("target_group") or "")
        for g in snapshot.generations
        if not g.external
    }
    ours = [(arn, snapshot.weights[g]) for g, arn in groups.items() if arn]
    owned = {arn for arn, _ in ours}
    # the external generation's target groups stay as the listener has them: it is
    # what the listener says, Molt keeps no record of it to set back
    adopted = external_arns(snapshot)
    keep = bool(adopted) or not sum(w for _, w in ours)
    foreign = [(a, w) for a, w in entries if a not in owned] if keep else []
    # a target group serves if it is not Molt's (Molt cannot tell) or has a healthy target
    serving = {a for a, _ in entries if a not in owned} | {
        groups[g.id] for g in snapshot.generations if g.healthy_count() and g.id in groups
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
    owned = external_arns(snapshot)
    for generation in snapshot.generations:
        if generation.external:
            continue
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


def external_arns(snapshot: FleetSnapshot) -> set[str]:
    """The target groups of the external generation ``g0``, as the snapshot read them."""
    return {
        arn
        for g in snapshot.generations
        if g.external
        for arn in str(g.extra.get("target_groups") or "").split()
    }


def shown(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())
