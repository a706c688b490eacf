"""Driving a rollout: take the rollout lock, journal the start, then for each step set
the weight (a journaled shift carrying the counters it is judged from and the evidence
that justified it), and at every tick read the fleet and ask the judge
(:func:`backends.core.rollout_judge.decide`) what to do: wait, pass, abort (all traffic back
to the baseline at once) or end inconclusive. The loop only reads and acts.

Anyone may pause, resume or abort a rollout from another terminal: those are journal
records the driver reads at every tick. An operator's own shift, promote, rollback or
retire during a rollout pauses it — the hand wins, and the rollout never overwrites it;
``--resume`` goes on from the weights as they are. A driver that dies leaves the rollout
interrupted, weights where they were; one that freezes loses the rollout lease after its
time to live and, woken, checks the lease and the fleet's revision before any shift.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping

from backends.core import baseline as baselines
from backends.core.errors import BackendError, Refused
from backends.core.locking import ROLLOUT_LOCK, Lease
from backends.core.model import FleetSnapshot
from backends.core.rollout import Plan, Rollout, RolloutState, window_counts
from backends.core.rollout_judge import slow_threshold
from backends.engine.rollout_steps import (
    Held,
    LeaseLost,
    OpenFleet,
    Progress,
    RolloutAborted,
    RolloutInconclusive,
    back_to_baseline,
    current,
    drive,
    event,
    others_carrying,
    totals,
)

__all__ = [
    "LeaseLost",
    "RolloutAborted",
    "RolloutInconclusive",
    "abort",
    "current",
    "pause",
    "resume",
    "start",
]


def _refuse_others(
    fleet: OpenFleet, snapshot: FleetSnapshot, generation: str, baseline: str
) -> None:
    """A rollout moves traffic between the new generation and its baseline only: another
    generation carrying traffic is refused at start, with the shift that clears it."""
    others = others_carrying(snapshot, generation, baseline)
    if not others:
        return
    weights = dict(snapshot.weights)
    weights[baseline] = weights.get(baseline, 0) + sum(others.values())
    weights.update(dict.fromkeys(others, 0))
    carrying = ", ".join(f"{g} carries {w}%" for g, w in others.items())
    raise Refused(
        f"{carrying}: a rollout moves traffic between {generation} and its baseline "
        f"{baseline} only; give that traffic to the baseline first: "
        f"`molt shift {fleet.name} {weights_text(weights)}`"
    )


async def start(fleet: OpenFleet, generation: str, plan: Plan, progress: Progress) -> Rollout:
    """Roll ``generation`` out against the generation carrying the most traffic."""
    snapshot = await fleet.read()
    target = snapshot.generation(generation)
    if target is None:
        raise Refused(f"fleet {fleet.name} has no generation {generation} to roll out")
    base = baselines.baseline(snapshot, generation)
    if base is None:
        raise Refused(
            f"no generation older than {generation} carries traffic to judge it against; "
            f"promote one first"
        )
    running = await current(fleet)
    if running is not None and running.state is not RolloutState.INTERRUPTED and not running.ended:
        raise Refused(
            f"fleet {fleet.name} already has a rollout of {running.generation} "
            f"({running.state.value}, by {running.by}); one rollout at a time"
        )
    _refuse_others(fleet, snapshot, generation, base.id)
    rollout_id = uuid.uuid4().hex[:12]
    held = Held(fleet, await _take(fleet, rollout_id, generation))
    try:
        p99 = base.traffic.p99_ms if base.traffic is not None else None
        await fleet.ops.record(
            "rollout",
            {
                "event": "start",
                "generation": generation,
                "baseline": base.id,
                "plan": plan.to_json(),
                "baseline_totals": totals(snapshot, base.id),
                "baseline_before": window_counts(base),
                "slow_ms": round(slow_threshold(p99, plan), 3) if p99 else None,
            },
            record_id=rollout_id,
        )
        progress(f"rollout of {generation} against {base.id}: {plan.describe()}")
        return await drive(fleet, rollout_id, held, progress)
    finally:
        held.stop()
        await _let_go(fleet, held.lease)


async def resume(fleet: OpenFleet, progress: Progress) -> Rollout:
    """Resume a paused rollout (its driver goes on) or drive an interrupted one on —
    from the weights as they are, counting anew."""
    rollout = await _open(fleet, "resume")
    if rollout.state is RolloutState.RUNNING:
        raise Refused(f"the rollout of {rollout.generation} is running, not paused")
    snapshot = await fleet.read()
    if snapshot.generation(rollout.baseline) is None:
        raise Refused(
            f"the baseline {rollout.baseline} is gone: this rollout cannot be judged; "
            f"`molt rollout {fleet.name} --abort` ends it"
        )
    _refuse_others(fleet, snapshot, rollout.generation, rollout.baseline)
    driver = await fleet.backend.lock_holder(ROLLOUT_LOCK)
    if driver is not None and driver.record == rollout.id:  # its driver waits: wake it
        await _resumed(fleet, rollout, snapshot, "")
        progress(f"rollout of {rollout.generation} resumed from the weights as they are")
        return rollout
    held = Held(fleet, await _take(fleet, rollout.id, rollout.generation))
    try:
        why = "driven on after an interruption" if rollout.state is RolloutState.INTERRUPTED else ""
        await _resumed(fleet, rollout, snapshot, why)
        weight = snapshot.weights.get(rollout.generation, 0)
        progress(f"driving the rollout of {rollout.generation} on from {weight}%")
        return await drive(fleet, rollout.id, held, progress)
    finally:
        held.stop()
        await _let_go(fleet, held.lease)


async def _resumed(
    fleet: OpenFleet, rollout: Rollout, snapshot: FleetSnapshot, reason: str
) -> None:
    """The resume record carries fresh counters: the judge counts anew from here."""
    await event(
        fleet,
        rollout,
        "resume",
        reason,
        canary_totals=totals(snapshot, rollout.generation),
        baseline_totals=totals(snapshot, rollout.baseline),
        baseline_before=window_counts(snapshot.generation(rollout.baseline)),
    )


async def pause(fleet: OpenFleet, reason: str = "") -> Rollout:
    rollout = await _open(fleet, "pause")
    if rollout.state is not RolloutState.RUNNING:
        raise Refused(f"the rollout of {rollout.generation} is {rollout.state.value}")
    await event(fleet, rollout, "pause", reason)
    return rollout


async def abort(fleet: OpenFleet, reason: str) -> Rollout:
    """All traffic back to the baseline at once, and the rollout ended."""
    rollout = await _open(fleet, "abort")
    await back_to_baseline(fleet, rollout, reason)
    return rollout


async def _open(fleet: OpenFleet, what: str) -> Rollout:
    rollout = await current(fleet)
    if rollout is None or rollout.ended:
        raise Refused(f"fleet {fleet.name} has no rollout to {what}")
    return rollout


async def _take(fleet: OpenFleet, record: str, generation: str) -> Lease:
    operator = await fleet.ops.operator()
    lease = Lease.new(
        operator, f"rollout {generation}", record, fleet.backend.lease_ttl, lock=ROLLOUT_LOCK
    )
    return await fleet.backend.acquire(lease)


async def _let_go(fleet: OpenFleet, lease: Lease) -> None:
    with contextlib.suppress(BackendError):
        await asyncio.shield(fleet.backend.release(lease))


def weights_text(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())
