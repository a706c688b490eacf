"""The one door every mutation goes through, for the TUI and the CLI alike:

read-only check → fleet lock → fresh snapshot (and revision) → guards → journal record
(started) → backend call → journal record (outcome) → lock released. A guard's refusal
is journaled too; nothing is touched. An action whose *started* record could not be
stored does not run. An action cut short (Molt quit or was interrupted) ends
``interrupted``, never a dangling *started*; one killed outright leaves its *started*
record without a lease, which is how ``status`` tells it was interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from backends.contract import Backend, read_only_refusal
from backends.core import guards
from backends.core.errors import BackendError, OperationFailed, Refused
from backends.core.journal import JournalRecord, Outcome
from backends.core.journal_view import JournalView
from backends.core.locking import ROLLOUT_LOCK, Lease, Locked
from backends.core.model import FleetSnapshot, Generation, GenerationSpec, utcnow
from backends.core.rollout import rollout_state

MUTATIONS = ("launch", "shift", "promote", "rollback", "retire", "apply")
INTERRUPTED = "Molt stopped before it finished; run the same command again to finish it"

Plan = Callable[[FleetSnapshot], Mapping[str, int]]
Act = Callable[[Mapping[str, int]], Awaitable[dict[str, Any]]]


class Stale(Refused):
    """The fleet changed between the moment an operator prepared an action (a staged
    shift) and the moment it was applied; nothing was changed."""

    title = "The fleet changed"


class Operations:
    """Guarded, journaled mutations of one backend's fleet."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._operator: str | None = None

    @property
    def fleet(self) -> str:
        return self.backend.name

    @property
    def read_only(self) -> bool:
        return self.backend.read_only

    async def operator(self) -> str:
        if self._operator is None:
            self._operator = await self.backend.operator()
        return self._operator

    async def launch(self, spec: GenerationSpec) -> Generation:
        """Launch a new generation at weight 0."""
        args: dict[str, Any] = {"version": spec.version, "count": spec.count, "note": spec.note}
        if spec.artifact:
            args["artifact"] = spec.artifact

        guards.check_launch(spec.version, spec.count, spec.note)  # bad input: before the lock
        resume: list[str | None] = [None]

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            resume[0] = guards.interrupted_launch(snapshot, spec.version)
            return snapshot.weights

        operator = await self.operator()
        launched: list[Generation] = []

        async def act(_: Mapping[str, int]) -> dict[str, Any]:
            made = await self.backend.launch(replace(spec, launched_by=operator), resume=resume[0])
            launched.append(made)
            # the digest of what was launched, journaled: every verify holds the
            # manifest it finds against it (backends.core.proofs)
            return {
                "generation": made.id,
                **({"digest": made.digest} if made.digest else {}),
                **({"resumed": True} if resume[0] else {}),
            }

        await self._mutate("launch", args, plan, act)
        return launched[0]

    async def shift(
        self,
        weights: Mapping[str, int],
        *,
        force: bool = False,
        expected: str | None = None,
        why: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """Set the fleet's weights (they must sum to 100; generations not named get 0).
        ``expected``: the fleet revision the shift was prepared against; if the fleet
        changed since, :class:`Stale` and nothing changes. ``why``: what justified it,
        journaled with it (a rollout's step and the checks that passed)."""

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            if expected is not None and snapshot.revision != expected:
                now = " ".join(f"{g}={w}" for g, w in snapshot.weights.items())
                raise Stale(
                    f"the fleet changed since this shift was prepared (now {now}); "
                    "look again and confirm"
                )
            return guards.plan_weights(snapshot, weights, force=force)

        args = {"weights": dict(weights), **(why or {})}
        return await self._set_weights("shift", args, plan, force)

    async def promote(self, generation: str, *, force: bool = False) -> dict[str, int]:
        """All traffic to ``generation``."""
        return await self._set_weights(
            "promote",
            {"generation": generation},
            lambda s: guards.plan_promote(s, generation, force=force),
            force,
        )

    async def rollback(self) -> dict[str, int]:
        """All traffic back to the most recent earlier healthy generation."""
        chosen: dict[str, Any] = {}

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            target, weights = guards.plan_rollback(snapshot)
            chosen["generation"] = target
            return weights

        return await self._set_weights("rollback", {}, plan, False, chosen)

    async def retire(self, generation: str) -> None:
        """Drain, then destroy ``generation`` (or finish a retire that was cut short). The
        baseline of a rollout that has not ended is refused: its judge needs it."""
        if self.read_only:
            raise read_only_refusal("retire")
        view = JournalView(self.backend.journal, self.fleet)
        await view.refresh()
        rollout = rollout_state(view.records(), await self.backend.lock_holder(ROLLOUT_LOCK))
        if rollout is not None and not rollout.ended and rollout.baseline == generation:
            raise Refused(
                f"{generation} is the baseline of the rollout of {rollout.generation} "
                f"({rollout.state.value}); finish it or end it with "
                f"`molt rollout {self.fleet} --abort` before retiring {generation}"
            )

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            guards.check_retire(snapshot, generation)
            return {g: w for g, w in snapshot.weights.items() if g != generation}

        async def act(_: Mapping[str, int]) -> dict[str, Any]:
            await self.backend.retire(generation)
            return {}

        await self._mutate("retire", {"generation": generation}, plan, act)

    async def apply(self) -> tuple[str, ...]:
        """Make what runs match molt.toml and what Molt recorded (``molt apply``): under
        the fleet lock, journaled before the driver acts. Returns what was done; when
        nothing differs, nothing is done and nothing is journaled. The driver refuses,
        with the reason, a change that would drop traffic (journaled ``refused``)."""
        if self.read_only:
            raise read_only_refusal("apply")
        found = await self.backend.differences(await self.backend.snapshot())
        if not found:
            return ()
        done: list[str] = []

        async def act(_: Mapping[str, int]) -> dict[str, Any]:
            done.extend(await self.backend.apply())
            return {"applied": list(done)}

        await self._mutate("apply", {"differences": list(found)}, lambda s: s.weights, act)
        return tuple(done)

    async def record(
        self, action: str, args: Mapping[str, Any], *, record_id: str | None = None
    ) -> None:
        """Journal an action that changes no weight and asks nothing of the driver (a
        rollout starting, pausing, ending) — through the same door: read-only refuses
        it, it holds the fleet lock, its record is chained like any other."""

        async def act(_: Mapping[str, int]) -> dict[str, Any]:
            return {}

        await self._mutate(action, dict(args), lambda s: s.weights, act, record_id=record_id)

    async def _set_weights(
        self,
        action: str,
        args: dict[str, Any],
        plan: Plan,
        forced: bool,
        result: dict[str, Any] | None = None,
    ) -> dict[str, int]:
        applied: dict[str, int] = {}

        async def act(weights: Mapping[str, int]) -> dict[str, Any]:
            await self.backend.set_weights(weights)  # the complete map, from the guards
            applied.update(weights)
            return result or {}

        await self._mutate(action, args, plan, act, forced=forced)
        return applied

    async def _mutate(
        self,
        action: str,
        args: dict[str, Any],
        plan: Plan,
        act: Act,
        *,
        forced: bool = False,
        record_id: str | None = None,
    ) -> None:
        if self.read_only:
            raise read_only_refusal(action)
        record = JournalRecord(
            fleet=self.fleet, action=action, operator=await self.operator(), args=args
        )
        if record_id is not None:
            record = replace(record, id=record_id)
        lease = await self.backend.acquire(
            Lease.new(record.operator, _doing(action, args), record.id, self.backend.lease_ttl)
        )
        lost = asyncio.Event()
        keeper = asyncio.ensure_future(self._keep(lease, lost))
        released: list[bool] = []

        async def guarded_then_release() -> None:
            try:
                await self._guarded(record, plan, act, forced, lost)
            finally:  # at once, in this task: a look woken by the outcome sees it free
                if not lost.is_set():
                    released.append(True)
                    keeper.cancel()  # a renewal racing the release would read as lost
                    await asyncio.shield(self._release(lease))

        work = asyncio.ensure_future(guarded_then_release())
        try:
            try:
                await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
                if released:  # the work stopped the keeper to release: it ends by itself
                    await asyncio.wait({work})
            finally:
                # cancelled from outside, or the lease is gone: another Molt may act now,
                # so this one stops before its next write — and, the lease lost, writes no
                # outcome (the record stays *started* with no lease holding it: status
                # shows it interrupted, with the command that finishes it)
                stopped = not work.done()
                if stopped:
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await work
            if stopped:
                raise keeper.result()
            await work
        finally:
            keeper.cancel()
            if not lost.is_set() and not released:  # cancelled before it began
                await asyncio.shield(self._release(lease))

    async def _guarded(
        self, record: JournalRecord, plan: Plan, act: Act, forced: bool, lost: asyncio.Event
    ) -> None:
        snapshot = await self.backend.snapshot()
        record = replace(record, weights_before=snapshot.weights, forced=forced)
        try:
            weights_after = plan(snapshot)
        except Refused as refusal:
            await self.backend.journal.write(
                record.finished(Outcome.REFUSED, refusal.message, snapshot.weights)
            )
            raise
        record = record.finished(Outcome.STARTED, weights_after=weights_after)
        await self.backend.journal.write(record)  # no record, no action
        try:
            result = await act(weights_after)
        except asyncio.CancelledError:
            if not lost.is_set():
                await asyncio.shield(self._write_outcome(record, Outcome.INTERRUPTED, INTERRUPTED))
            raise
        except Refused as refusal:  # the driver changed nothing, and says why
            await self._write_outcome(record, Outcome.REFUSED, refusal.message)
            raise
        except BackendError as error:
            await self._write_outcome(record, Outcome.FAILED, error.message)
            raise
        except Exception as error:  # a driver bug must still leave a journal outcome
            await self._write_outcome(record, Outcome.FAILED, f"{type(error).__name__}: {error}")
            raise OperationFailed(
                f"{record.action} failed: {type(error).__name__}: {error}"
            ) from error
        done = record.finished(Outcome.OK)
        await self.backend.journal.write(replace(done, args={**done.args, **result}))

    async def _keep(self, lease: Lease, lost: asyncio.Event) -> Locked:
        """Renew the lease while the action runs (a third of its life at a time); return
        once it is lost — refused, or not renewed in time to outlive the next try."""
        ttl = self.backend.lease_ttl
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                lease = await self.backend.renew(lease)
                continue
            except Locked as refused:
                gone = refused
            except BackendError:  # a passing fault, unless the lease ends before the next try
                if (lease.expires - utcnow()).total_seconds() > ttl / 3:
                    continue
                gone = Locked(self.fleet, None, lease.lock, lost=lease)
            lost.set()
            return gone

    async def _release(self, lease: Lease) -> None:
        with contextlib.suppress(BackendError):
            await self.backend.release(lease)

    async def _write_outcome(self, record: JournalRecord, outcome: Outcome, reason: str) -> None:
        with contextlib.suppress(BackendError):  # the original failure is what matters
            await self.backend.journal.write(record.finished(outcome, reason))


def _doing(action: str, args: Mapping[str, Any]) -> str:
    """``retire g1``, ``shift g1=90 g2=10``, ``launch v2``: what a lock holder is doing."""
    if "weights" in args:
        return f"{action} " + " ".join(f"{g}={w}" for g, w in args["weights"].items())
    detail = args.get("generation") or args.get("version") or ""
    return f"{action} {detail}".strip()
