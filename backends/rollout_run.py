"""Driving a rollout: take the rollout lock, journal the start, then for each step set
the weight (a journaled shift carrying the checks that justified it), bake, judge, go
on — or abort at the first failed check, all traffic back to the baseline at once.

Anyone may pause, resume or abort a rollout from another terminal: those are journal
records the driver reads at every tick. A driver that dies leaves the rollout
interrupted, weights where they were; ``--resume`` by anyone drives it on from the
current step.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from backends import baseline as baselines
from backends.errors import BackendError, OperationFailed, Refused
from backends.locking import ROLLOUT_LOCK, Lease, Locked
from backends.model import FleetSnapshot
from backends.operations import Stale
from backends.rollout import (
    EXTEND_AT_MOST,
    Plan,
    Rollout,
    RolloutState,
    SlowTail,
    Verdict,
    abort_reason,
    judge,
    rollout_state,
)

if TYPE_CHECKING:
    from backends.session import FleetSession

Progress = Callable[[str], None]
LOCKED_TRIES = 20  # a step or an abort waits this many times for a shift in flight…
LOCKED_WAIT = 0.5  # …this many seconds each
WINDOW_UNKNOWN_S = 30.0  # a slow p99 holds a step this long when no window is known


class RolloutAborted(OperationFailed):
    title = "Rollout aborted"


async def current(session: FleetSession) -> Rollout | None:
    """The fleet's latest rollout, as every Molt reads it."""
    records = await session.history()
    return rollout_state(records, await session.backend.lock_holder(ROLLOUT_LOCK))


async def start(session: FleetSession, generation: str, plan: Plan, progress: Progress) -> Rollout:
    """Roll ``generation`` out against the generation carrying the most traffic."""
    snapshot = await session.read()
    if snapshot.generation(generation) is None:
        raise Refused(f"fleet {session.name} has no generation {generation} to roll out")
    base = baselines.baseline(snapshot, generation)
    if base is None:
        raise Refused(
            f"no generation older than {generation} carries traffic to judge it against; "
            f"promote one first"
        )
    running = await current(session)
    if running is not None and running.state is not RolloutState.INTERRUPTED and not running.ended:
        raise Refused(
            f"fleet {session.name} already has a rollout of {running.generation} "
            f"({running.state.value}, by {running.by}); one rollout at a time"
        )
    rollout_id = uuid.uuid4().hex[:12]
    lease = await _take(session, rollout_id, generation)
    try:
        await session.ops.record(
            "rollout",
            {
                "event": "start",
                "generation": generation,
                "baseline": base.id,
                "plan": plan.to_json(),
            },
            record_id=rollout_id,
        )
        progress(f"rollout of {generation} against {base.id}: {plan.describe()}")
        rollout = await current(session)
        assert rollout is not None
        return await _drive(session, rollout, lease, progress)
    finally:
        await _let_go(session, lease)


async def resume(session: FleetSession, progress: Progress) -> Rollout:
    """Resume a paused rollout (its driver goes on) or drive an interrupted one on."""
    rollout = await _open(session, "resume")
    if rollout.state is RolloutState.RUNNING:
        raise Refused(f"the rollout of {rollout.generation} is running, not paused")
    if rollout.state is not RolloutState.INTERRUPTED:
        await _event(session, rollout, "resume", "")
        progress(f"rollout of {rollout.generation} resumed")
        return rollout
    lease = await _take(session, rollout.id, rollout.generation)
    try:
        await _event(session, rollout, "resume", "driven on after an interruption")
        progress(f"driving the rollout of {rollout.generation} on from step {rollout.step}")
        again = await current(session)
        assert again is not None
        return await _drive(session, again, lease, progress)
    finally:
        await _let_go(session, lease)


async def pause(session: FleetSession, reason: str = "") -> Rollout:
    rollout = await _open(session, "pause")
    if rollout.state is not RolloutState.RUNNING:
        raise Refused(f"the rollout of {rollout.generation} is {rollout.state.value}")
    await _event(session, rollout, "pause", reason)
    return rollout


async def abort(session: FleetSession, reason: str) -> Rollout:
    """All traffic back to the baseline at once, and the rollout ended."""
    rollout = await _open(session, "abort")
    await _back_to_baseline(session, rollout, reason)
    return rollout


async def _open(session: FleetSession, what: str) -> Rollout:
    rollout = await current(session)
    if rollout is None or rollout.ended:
        raise Refused(f"fleet {session.name} has no rollout to {what}")
    return rollout


async def _take(session: FleetSession, record: str, generation: str) -> Lease:
    operator = await session.ops.operator()
    lease = Lease.new(operator, f"rollout {generation}", record, lock=ROLLOUT_LOCK)
    return await session.backend.acquire(lease)


async def _let_go(session: FleetSession, lease: Lease) -> None:
    with contextlib.suppress(BackendError):
        await asyncio.shield(session.backend.release(lease))


async def _event(session: FleetSession, rollout: Rollout, event: str, reason: str) -> None:
    args = {"event": event, "rollout": rollout.id, "generation": rollout.generation}
    await _past_locks(lambda: session.ops.record("rollout", {**args, "reason": reason}))


async def _past_locks(act: Callable[[], Awaitable[object]]) -> None:
    """``act()``, waiting out a fleet lock held by a mutation in flight (a rollout's step
    and an abort from another terminal may well meet)."""
    for attempt in range(LOCKED_TRIES):
        try:
            await act()
            return
        except Locked:
            if attempt == LOCKED_TRIES - 1:
                raise
            await asyncio.sleep(LOCKED_WAIT)


def _weights(snapshot: FleetSnapshot, rollout: Rollout, weight: int) -> dict[str, int]:
    """``weight`` to the rolled-out generation, taken from (or given to) the baseline;
    the others keep theirs."""
    weights = dict(snapshot.weights)
    others = sum(w for g, w in weights.items() if g not in (rollout.generation, rollout.baseline))
    if weight + others > 100:
        raise Refused(f"other generations carry {others}%: {weight}% does not fit")
    weights[rollout.generation] = weight
    weights[rollout.baseline] = 100 - weight - others
    return weights


async def _back_to_baseline(session: FleetSession, rollout: Rollout, reason: str) -> None:
    """The abort is journaled first: a driver reads the fleet, then the journal, then
    shifts on that read's revision — so once the traffic is back on the baseline no
    step can follow. The shift waits out a fleet lock held by a shift in flight (the
    driver's own step, say)."""
    await _event(session, rollout, "abort", reason)

    async def shift() -> None:
        snapshot = await session.read()
        await session.ops.shift(_weights(snapshot, rollout, 0), why={"rollout": rollout.id})

    await _past_locks(shift)


async def _drive(
    session: FleetSession, rollout: Rollout, lease: Lease, progress: Progress
) -> Rollout:
    keeper = asyncio.ensure_future(_keep(session, lease))
    try:
        steps = rollout.plan.steps
        step = rollout.step
        verdict: Verdict | None = None
        if step == 0:
            step = 1
            await _set_step(session, rollout, step, verdict, progress)
        while True:
            verdict = await _bake(session, rollout, step, progress)
            if step == len(steps):
                await _event(session, rollout, "done", "")
                progress(f"rollout of {rollout.generation} done: {rollout.generation} at 100%")
                done = await current(session)
                assert done is not None
                return done
            step += 1
            await _set_step(session, rollout, step, verdict, progress)
    finally:
        keeper.cancel()


async def _keep(session: FleetSession, lease: Lease) -> None:
    while True:
        await asyncio.sleep(session.backend.lease_ttl / 3)
        with contextlib.suppress(BackendError):
            lease = await session.backend.renew(lease)


async def _set_step(
    session: FleetSession,
    rollout: Rollout,
    step: int,
    verdict: Verdict | None,
    progress: Progress,
) -> None:
    steps = rollout.plan.steps
    for _ in range(LOCKED_TRIES):
        snapshot = await session.read()
        await _stop_if_ended(session, rollout)  # after the read: see _back_to_baseline
        weights = _weights(snapshot, rollout, steps[step - 1])
        why = {
            "rollout": rollout.id,
            "step": step,
            "of": len(steps),
            "checks": [c.to_json() for c in verdict.checks] if verdict else [],
        }
        try:
            await session.ops.shift(weights, expected=snapshot.revision, why=why)
        except Stale:
            continue  # someone acted meanwhile (an abort?): look again
        except Locked:
            await asyncio.sleep(LOCKED_WAIT)  # someone is acting right now (an abort?)
            continue
        progress(f"step {step}/{len(steps)}: {rollout.generation} at {steps[step - 1]}%")
        return
    raise OperationFailed("the fleet kept changing under the rollout; it stopped")


async def _stop_if_ended(session: FleetSession, rollout: Rollout) -> Rollout:
    now = await current(session)
    if now is None or now.id != rollout.id:
        raise OperationFailed("the rollout's journal records are gone")
    if now.state is RolloutState.ABORTED:
        raise RolloutAborted(
            f"the rollout of {rollout.generation} was aborted by {now.by}: "
            f"{now.reason or 'no reason given'}"
        )
    return now


async def _bake(session: FleetSession, rollout: Rollout, step: int, progress: Progress) -> Verdict:
    plan = rollout.plan
    weight = plan.steps[step - 1]
    tick = max(1.0, min(5.0, session.backend.poll_interval))
    clock = asyncio.get_running_loop().time
    # baked is wall-clock time since the step began (or resumed): each tick's reads
    # take time of their own, and a bake counted in sleeps alone would last far longer
    began, said, paused = clock(), -1e9, False
    tail = SlowTail()
    while True:
        now = await _stop_if_ended(session, rollout)
        if now.state in (RolloutState.PAUSED, RolloutState.INCONCLUSIVE):
            if not paused:
                progress(
                    f"{now.state.value} ({now.by}): {now.reason or 'paused'}; "
                    f"`molt rollout {session.name} --resume` goes on"
                )
            paused = True
            await asyncio.sleep(tick)
            continue
        if paused:  # resumed: the step bakes again, from the start
            paused, began, said, tail = False, clock(), -1e9, SlowTail()
        baked = clock() - began
        snapshot = await session.read()
        at, window_s = clock(), _window(snapshot, rollout.generation)
        verdict = tail.confirm(
            judge(snapshot, rollout.generation, rollout.baseline, plan), at, window_s
        )
        if verdict.failed is not None:
            reason = abort_reason(rollout.generation, verdict.failed, weight)
            await _back_to_baseline(session, rollout, reason)
            raise RolloutAborted(reason)
        if baked - said >= 5 or baked >= plan.bake:
            left = max(0.0, plan.bake - baked)
            progress(
                f"step {step}/{len(plan.steps)} · {weight}% · bake {_clock(left)} left · "
                f"{verdict.text()}{tail.text(at, window_s)}"
            )
            said = baked
        if baked >= plan.bake and not verdict.held:
            if verdict.enough:
                return verdict
            if baked >= EXTEND_AT_MOST * plan.bake:
                requests = next(c.value for c in verdict.checks if c.measure == "requests")
                reason = (
                    f"{rollout.generation} had {requests} requests at step {weight}%, fewer "
                    f"than the {plan.min_requests} a verdict needs"
                )
                await _event(session, rollout, "inconclusive", reason)
                progress(f"inconclusive: {reason}; `molt rollout {session.name} --resume` goes on")
                continue
        await asyncio.sleep(tick)


def _window(snapshot: FleetSnapshot, generation: str) -> float:
    """The window the generation's traffic numbers cover (:data:`WINDOW_UNKNOWN_S` when
    the driver does not say)."""
    target = snapshot.generation(generation)
    traffic = target.traffic if target is not None else None
    return (traffic.window_s if traffic is not None else None) or WINDOW_UNKNOWN_S


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def weights_text(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())
