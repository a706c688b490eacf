"""A rollout's steps, driven: at every tick read the fleet, then the journal, ask the judge
(:func:`backends.core.rollout_judge.decide`) and act — wait, set the next step (a journaled
shift carrying the counters it is judged from and the evidence that passed the step
before), send all traffic back to the baseline, or stop inconclusive. The loop only reads
and acts; the verbs that start and steer it are in :mod:`backends.engine.rollout_driver`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from backends.contract import Backend
from backends.core.errors import BackendError, OperationFailed, Refused
from backends.core.journal import JournalRecord
from backends.core.locking import ROLLOUT_LOCK, Lease, Locked
from backends.core.model import FleetSnapshot
from backends.core.rollout import Rollout, RolloutState, rollout_state, step_facts
from backends.core.rollout_judge import Action, Decision, Facts, decide
from backends.engine.operations import Operations, Stale

Progress = Callable[[str], None]

LOCKED_TRIES = 20  # a step or an abort waits this many times for a shift in flight…
LOCKED_WAIT = 0.5  # …this many seconds each
SAY_EVERY = 5.0  # seconds between progress lines while a step bakes


class OpenFleet(Protocol):
    """What driving a rollout needs of an open fleet (a
    :class:`~backends.engine.session.FleetSession` is one): its name, its backend (the
    locks, the lease's time to live, the poll interval), its guarded operations, a fresh
    read, and the journal records that say where it stands."""

    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> Backend: ...

    @property
    def ops(self) -> Operations: ...

    async def read(self) -> FleetSnapshot: ...

    async def standing(self) -> list[JournalRecord]: ...


class RolloutAborted(OperationFailed):
    title = "Rollout aborted"


class RolloutInconclusive(OperationFailed):
    title = "Rollout inconclusive"


class LeaseLost(OperationFailed):
    title = "Rollout lease lost"


async def current(fleet: OpenFleet) -> Rollout | None:
    """The fleet's latest rollout, as every Molt reads it."""
    records = await fleet.standing()
    return rollout_state(records, await fleet.backend.lock_holder(ROLLOUT_LOCK))


def others_carrying(snapshot: FleetSnapshot, generation: str, baseline: str) -> dict[str, int]:
    return {
        g.id: g.weight
        for g in snapshot.generations
        if g.weight > 0 and g.id not in (generation, baseline)
    }


async def event(fleet: OpenFleet, rollout: Rollout, event: str, reason: str, **more: Any) -> None:
    args = {"event": event, "rollout": rollout.id, "generation": rollout.generation, **more}
    await past_locks(lambda: fleet.ops.record("rollout", {**args, "reason": reason}))


async def past_locks(act: Callable[[], Awaitable[object]]) -> None:
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


def totals(snapshot: FleetSnapshot, generation: str) -> dict[str, Any] | None:
    """A generation's counters as the journal keeps them (None: it counted nothing yet)."""
    found = snapshot.generation(generation)
    totals = found.traffic.totals if found is not None and found.traffic is not None else None
    return totals.to_json() if totals is not None else None


def _weights(snapshot: FleetSnapshot, rollout: Rollout, weight: int) -> dict[str, int]:
    """``weight`` to the rolled-out generation, taken from (or given to) the baseline;
    the others keep theirs."""
    weights = dict(snapshot.weights)
    others = sum(others_carrying(snapshot, rollout.generation, rollout.baseline).values())
    if weight + others > 100:
        raise Refused(f"other generations carry {others}%: {weight}% does not fit")
    weights[rollout.generation] = weight
    weights[rollout.baseline] = 100 - weight - others
    return weights


async def back_to_baseline(fleet: OpenFleet, rollout: Rollout, reason: str, **judged: Any) -> None:
    """The abort is journaled first: a driver reads the fleet, then the journal, then
    shifts on that read's revision — so once the traffic is back on the baseline no
    step can follow. The shift waits out a fleet lock held by a shift in flight (the
    driver's own step, say). A baseline that is gone takes nothing: the weights stay as
    they are, and the abort says so."""
    snapshot = await fleet.read()
    if snapshot.generation(rollout.baseline) is None:
        left = f"{reason}; the baseline {rollout.baseline} is gone: weights left as they are"
        await event(fleet, rollout, "abort", left, **judged)
        raise RolloutAborted(left)
    await event(fleet, rollout, "abort", reason, **judged)

    async def shift() -> None:
        snapshot = await fleet.read()
        await fleet.ops.shift(_weights(snapshot, rollout, 0), why={"rollout": rollout.id})

    await past_locks(shift)


class Held:
    """The rollout lease, renewed from the moment it is taken (the start record may take
    a while before the walk begins) until :meth:`stop`. ``lease`` is the copy as last
    renewed, shared by the keeper and the walk: a copy as first taken reads as expired
    once its TTL has passed, however often renewed. ``lost`` ends once it is lost."""

    def __init__(self, fleet: OpenFleet, lease: Lease) -> None:
        self.lease = lease
        self.lost: asyncio.Future[None] = asyncio.ensure_future(_keep(fleet, self))

    def stop(self) -> None:
        self.lost.cancel()


async def drive(fleet: OpenFleet, rollout_id: str, held: Held, progress: Progress) -> Rollout:
    try:
        return await _walk(fleet, rollout_id, held, progress, lost=held.lost)
    finally:
        held.stop()


async def _keep(fleet: OpenFleet, held: Held) -> None:
    """Renew the rollout lease; return once it is lost (the walk then stops acting)."""
    while True:
        await asyncio.sleep(fleet.backend.lease_ttl / 3)
        try:
            held.lease = await fleet.backend.renew(held.lease)
        except Locked:
            return  # taken over, or expired while this Molt was stopped
        except BackendError:
            continue  # a passing fault: the next renewal may do


async def _walk(
    fleet: OpenFleet,
    rollout_id: str,
    held: Held,
    progress: Progress,
    *,
    lost: asyncio.Future[None],
) -> Rollout:
    """Every tick: read the fleet, then the journal (see :func:`back_to_baseline`), then
    act on what the judge decides."""
    tick = max(1.0, min(5.0, fleet.backend.poll_interval))
    said_at, said_state = -1e9, ""
    clock = asyncio.get_running_loop().time  # the bake is timed on this Molt's clock
    step_key: object = None
    began = clock()
    while True:
        if lost.done():  # the keeper could not renew: another Molt may drive it now
            raise LeaseLost(
                "this Molt lost the rollout lease (it did not renew it within its "
                f"{fleet.backend.lease_ttl:g} s); it changes nothing more"
            )
        snapshot = await fleet.read()
        rollout = await stop_if_ended(fleet, rollout_id)
        if rollout.state is RolloutState.INTERRUPTED:
            await still_ours(fleet, held)  # the lease ran out: another may drive it
        if rollout.state is not RolloutState.RUNNING:
            if rollout.hand:
                await event(fleet, rollout, "pause", rollout.reason)
            if said_state != rollout.reason:
                progress(
                    f"{rollout.state.value} ({rollout.by}): {rollout.reason or 'paused'}; "
                    f"`molt rollout {fleet.name} --resume` goes on from the weights as they are"
                )
                said_state = rollout.reason
            await asyncio.sleep(tick)
            continue
        said_state = ""
        plan = rollout.plan
        weight = snapshot.weights.get(rollout.generation, 0)
        if rollout.step == 0 or weight != rollout.weight:
            # the first step, or the weights are not the step's (an operator's, before a
            # resume): the next step at or above the weights as they are
            step = next(i for i, w in enumerate(plan.steps, 1) if w >= weight)
            await _set_step(fleet, rollout, held, step, None, progress)
            continue
        if step_key != (rollout.step, rollout.step_since):  # a new step, or resumed
            step_key, began = (rollout.step, rollout.step_since), clock()
        facts = step_facts(rollout, snapshot, began)
        assert facts is not None
        now = clock()
        decision = decide(plan, facts, now)
        if decision.action is Action.ABORT:
            await still_ours(fleet, held)
            judge = {"judge": True, "started_by": rollout.started_by}
            await back_to_baseline(
                fleet, rollout, decision.reason, evidence=decision.evidence_json(), **judge
            )
            raise RolloutAborted(decision.reason)
        if now - said_at >= SAY_EVERY or decision.action is not Action.WAIT:
            progress(_line(rollout, decision, facts, now))
            said_at = now
        if decision.action is Action.PASS:
            if rollout.step == len(plan.steps):
                await event(fleet, rollout, "done", "", evidence=decision.evidence_json())
                progress(f"rollout of {rollout.generation} done: every step passed")
                done = await current(fleet)
                assert done is not None
                return done
            await _set_step(fleet, rollout, held, rollout.step + 1, decision, progress)
            continue
        if decision.action is Action.INCONCLUSIVE:
            await event(
                fleet,
                rollout,
                "inconclusive",
                decision.reason,
                evidence=decision.evidence_json(),
                judge=True,
                started_by=rollout.started_by,
            )
            raise RolloutInconclusive(
                f"{decision.reason}; `molt rollout {fleet.name} --resume` goes on from the "
                "weights as they are"
            )
        await asyncio.sleep(tick)


def _line(rollout: Rollout, decision: Decision, facts: Facts, now: float) -> str:
    """``step 1/4 · 10% · bake 0:41 left · ✓ health … 5xx 0/212 … · needs ~420 more …``"""
    plan, step = rollout.plan, rollout.step
    left = max(0.0, facts.began + plan.bake - now)
    if decision.action is Action.PASS:
        timing = "passed"
    elif left:
        timing = f"bake {_clock(left)} left"
    else:
        timing = f"holding, {_clock(decision.deadline - now)} left"
    return f"step {step}/{len(plan.steps)} · {rollout.weight}% · {timing} · {decision.text()}"


async def _set_step(
    fleet: OpenFleet,
    rollout: Rollout,
    held: Held,
    step: int,
    decision: Decision | None,
    progress: Progress,
) -> None:
    steps = rollout.plan.steps
    for _ in range(LOCKED_TRIES):
        snapshot = await fleet.read()
        now = await stop_if_ended(fleet, rollout.id)  # after the read: see _back_to_baseline
        if now.state is not RolloutState.RUNNING:
            return  # paused meanwhile (by hand?): the walk waits
        weights = _weights(snapshot, rollout, steps[step - 1])
        why = {
            "rollout": rollout.id,
            "step": step,
            "of": len(steps),
            "evidence": decision.evidence_json() if decision else [],
            "canary_totals": totals(snapshot, rollout.generation),
        }
        await still_ours(fleet, held)
        try:
            await fleet.ops.shift(weights, expected=snapshot.revision, why=why)
        except Stale:
            continue  # someone acted meanwhile (an abort? a hand?): look again
        except Locked:
            await asyncio.sleep(LOCKED_WAIT)  # someone is acting right now (an abort?)
            continue
        progress(f"step {step}/{len(steps)}: {rollout.generation} at {steps[step - 1]}%")
        return
    raise OperationFailed("the fleet kept changing under the rollout; it stopped")


async def still_ours(fleet: OpenFleet, held: Held) -> None:
    """A driver that froze (SIGSTOP, a laptop lid) past its lease's time to live may have
    been replaced: it must not act. Renews the lease (``held`` keeps the renewal)."""
    lease = held.lease
    try:
        held.lease = lease = await fleet.backend.renew(lease)
    except Locked as lost:
        raise LeaseLost(
            f"this Molt lost the rollout lease while it was stopped ({lost.message}); "
            "it changes nothing more"
        ) from lost
    holder = await fleet.backend.lock_holder(ROLLOUT_LOCK)
    if holder is None or not lease.same(holder):
        raise LeaseLost(
            "this Molt lost the rollout lease while it was stopped; it changes nothing more"
        )


async def stop_if_ended(fleet: OpenFleet, rollout_id: str) -> Rollout:
    now = await current(fleet)
    if now is None or now.id != rollout_id:
        raise OperationFailed("the rollout's journal records are gone")
    if now.state is RolloutState.ABORTED:
        if now.reason.endswith(f" by {now.by}"):  # "aborted by alice": said once
            raise RolloutAborted(f"the rollout of {now.generation} was {now.reason}")
        raise RolloutAborted(
            f"the rollout of {now.generation} was aborted by {now.by}: "
            f"{now.reason or 'no reason given'}"
        )
    return now


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
