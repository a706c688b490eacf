"""The one door every mutation goes through, for the TUI and the CLI alike:

read-only check → fresh snapshot → guards → journal record (started) → backend call →
journal record (outcome). A guard's refusal is journaled too; nothing is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from backends import guards
from backends.base import Backend
from backends.errors import BackendError, OperationFailed, Refused, Unreachable
from backends.journal import JournalRecord, Outcome
from backends.model import FleetSnapshot, Generation, GenerationSpec, GenerationState, Health

MUTATIONS = ("launch", "shift", "promote", "rollback", "retire")


class Operations:
    """Guarded, journaled mutations of one backend's fleets."""

    def __init__(self, backend: Backend, *, read_only: bool = False) -> None:
        self.backend = backend
        self.read_only = read_only
        self._operator: str | None = None

    async def operator(self) -> str:
        if self._operator is None:
            self._operator = await self.backend.operator()
        return self._operator

    async def launch(self, fleet: str, spec: GenerationSpec) -> Generation:
        """Launch a new generation at weight 0."""
        args: dict[str, Any] = {"version": spec.version, "count": spec.count, "note": spec.note}
        if spec.artifact:
            args["artifact"] = spec.artifact

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            guards.check_launch(spec.version, spec.count)
            return snapshot.weights

        operator = await self.operator()
        launched: list[Generation] = []

        async def act(_: Mapping[str, int]) -> dict[str, Any]:
            spec_by = GenerationSpec(
                version=spec.version,
                count=spec.count,
                note=spec.note,
                artifact=spec.artifact,
                launched_by=operator,
            )
            launched.append(await self.backend.launch(fleet, spec_by))
            return {"generation": launched[0].id}

        await self._mutate(fleet, "launch", args, plan, act)
        return launched[0]

    async def shift(
        self, fleet: str, weights: Mapping[str, int], *, force: bool = False
    ) -> dict[str, int]:
        """Set the fleet's weights (they must sum to 100)."""
        return await self._set_weights(
            fleet,
            "shift",
            {"weights": dict(weights)},
            lambda s: guards.plan_weights(s, weights, force=force),
            force,
        )

    async def promote(self, fleet: str, generation: str, *, force: bool = False) -> dict[str, int]:
        """All traffic to ``generation``."""
        return await self._set_weights(
            fleet,
            "promote",
            {"generation": generation},
            lambda s: guards.plan_promote(s, generation, force=force),
            force,
        )

    async def rollback(self, fleet: str) -> dict[str, int]:
        """All traffic back to the most recent earlier healthy generation."""
        chosen: dict[str, Any] = {}

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            target, weights = guards.plan_rollback(snapshot)
            chosen["generation"] = target
            return weights

        return await self._set_weights(fleet, "rollback", {}, plan, False, chosen)

    async def retire(self, fleet: str, generation: str) -> None:
        """Drain, then destroy ``generation``."""

        def plan(snapshot: FleetSnapshot) -> Mapping[str, int]:
            guards.check_retire(snapshot, generation)
            return {g: w for g, w in snapshot.weights.items() if g != generation}

        async def act(_: Mapping[str, int]) -> dict[str, Any]:
            await self.backend.retire(fleet, generation)
            return {}

        await self._mutate(fleet, "retire", {"generation": generation}, plan, act)

    async def _set_weights(
        self,
        fleet: str,
        action: str,
        args: dict[str, Any],
        plan: Callable[[FleetSnapshot], Mapping[str, int]],
        forced: bool,
        result: dict[str, Any] | None = None,
    ) -> dict[str, int]:
        applied: dict[str, int] = {}

        async def act(weights: Mapping[str, int]) -> dict[str, Any]:
            await self.backend.set_weights(fleet, weights)
            applied.update(weights)
            return result or {}

        await self._mutate(fleet, action, args, plan, act, forced=forced)
        return applied

    async def _mutate(
        self,
        fleet: str,
        action: str,
        args: dict[str, Any],
        plan: Callable[[FleetSnapshot], Mapping[str, int]],
        act: Callable[[Mapping[str, int]], Awaitable[dict[str, Any]]],
        *,
        forced: bool = False,
    ) -> None:
        if self.read_only:
            raise Refused(
                f"read-only mode: {action} is not allowed (start Molt without --read-only)"
            )
        snapshot = await self.backend.snapshot(fleet)
        record = JournalRecord(
            fleet=fleet,
            action=action,
            operator=await self.operator(),
            args=args,
            weights_before=snapshot.weights,
            forced=forced,
        )
        try:
            weights_after = plan(snapshot)
        except Refused as refusal:
            await self.backend.journal.write(
                record.finished(Outcome.REFUSED, refusal.message, snapshot.weights)
            )
            raise
        record = record.finished(Outcome.STARTED, weights_after=weights_after)
        await self.backend.journal.write(record)
        try:
            result = await act(weights_after)
        except BackendError as error:
            await self._write_failure(record, error.message)
            raise
        except Exception as error:  # a driver bug must still leave a journal outcome
            await self._write_failure(record, f"{type(error).__name__}: {error}")
            raise OperationFailed(f"{action} failed: {type(error).__name__}: {error}") from error
        done = record.finished(Outcome.OK)
        await self.backend.journal.write(replace(done, args={**done.args, **result}))

    async def _write_failure(self, record: JournalRecord, reason: str) -> None:
        with contextlib.suppress(BackendError):  # the original failure is what matters
            await self.backend.journal.write(record.finished(Outcome.FAILED, reason))


DEGRADED_GRACE = 15.0


async def wait_settled(
    backend: Backend,
    fleet: str,
    generation: str,
    *,
    timeout: float,
    poll: float = 0.25,
    degraded_grace: float = DEGRADED_GRACE,
) -> Generation:
    """Wait until every instance of ``generation`` is healthy (returned), or it has failed
    or stayed degraded with nothing pending for ``degraded_grace`` seconds (a host down:
    :class:`OperationFailed`); :class:`Unreachable` on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    degraded_since: float | None = None
    while True:
        snapshot = await backend.snapshot(fleet)
        found = snapshot.generation(generation)
        if found is None:
            raise OperationFailed(f"{generation} disappeared from fleet {fleet} while launching")
        healths = [i.health for i in found.instances]
        if healths and all(h is Health.HEALTHY for h in healths):
            return found
        if found.state is GenerationState.FAILED:
            raise OperationFailed(
                f"{generation} ({found.version}) failed: {_failure_reason(found)}"
            )
        settled_sick = found.state is GenerationState.DEGRADED and Health.PENDING not in healths
        degraded_since = (degraded_since or loop.time()) if settled_sick else None
        if degraded_since is not None and loop.time() - degraded_since >= degraded_grace:
            raise OperationFailed(
                f"{generation} ({found.version}) is degraded: {found.healthy_count()}/"
                f"{len(healths)} healthy, {_failure_reason(found)}"
            )
        if loop.time() >= deadline:
            healthy = sum(1 for h in healths if h is Health.HEALTHY)
            raise Unreachable(
                f"{generation} not healthy after {timeout:.0f} s "
                f"({healthy}/{len(healths)} healthy); see `molt status {fleet}`"
            )
        await asyncio.sleep(poll)


def _failure_reason(generation: Generation) -> str:
    unhealthy = [i for i in generation.instances if i.health is Health.UNHEALTHY]
    if unhealthy and unhealthy[0].last_check:
        return f"{len(unhealthy)}/{len(generation.instances)} unhealthy, {unhealthy[0].last_check}"
    return f"{len(unhealthy)}/{len(generation.instances)} instances unhealthy"
