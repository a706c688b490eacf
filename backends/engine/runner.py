"""A session's operations runner: the operations in flight, each an intent (launch,
shift, promote, rollback, retire, and start, pause, resume or abort a rollout) run as a
task of its own through the guarded door (:class:`~backends.engine.operations.Operations`).
An operation belongs to the session, not to a screen: switching screen never cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from backends.core.deadline import Deadline
from backends.core.errors import OperationFailed, Unreachable
from backends.core.model import Generation, GenerationSpec, GenerationState, Health
from backends.engine.feed import Feed
from backends.engine.updates import Done, InFlight, Listener, OperationsChanged, RolloutProgress

if TYPE_CHECKING:
    from backends.core.rollout import Plan
    from backends.engine.rollout_steps import OpenFleet

DEGRADED_GRACE = 15.0  # a generation degraded with nothing pending this long has settled


class Runner:
    """Runs a fleet's operations and keeps :attr:`in_flight`; listeners hear each start
    and end as :class:`OperationsChanged`, a rollout's lines as :class:`RolloutProgress`."""

    def __init__(self, fleet: OpenFleet, feed: Feed, tell: Listener) -> None:
        self.fleet = fleet
        self.feed = feed
        self._tell = tell
        self.in_flight: list[InFlight] = []
        self._numbers = 0

    # intents -----------------------------------------------------------------------------
    def launch(self, spec: GenerationSpec) -> InFlight:
        async def work() -> Done:
            generation = await self.fleet.ops.launch(spec)
            text = f"{generation.id} launched: {generation.version} × {generation.count}"
            return Done(text, generation)

        return self.run("launch", f"launching {spec.version}", work)

    def shift(
        self, weights: Mapping[str, int], *, was: str = "", expected: str | None = None
    ) -> InFlight:
        """``expected``: the fleet revision the shift was staged against (a staged shift
        is applied only if nothing changed since; else :class:`Stale`)."""

        async def work() -> Done:
            applied = await self.fleet.ops.shift(weights, expected=expected)
            return Done(f"shifted: {_weights(applied)}" + (f" ({was})" if was else ""))

        return self.run("shift", f"shifting {_weights(weights)}", work)

    def promote(self, generation: str) -> InFlight:
        async def work() -> Done:
            weights = await self.fleet.ops.promote(generation)
            return Done(f"{generation} promoted: {_weights(weights)}")

        return self.run("promote", f"promoting {generation}", work)

    def rollback(self) -> InFlight:
        async def work() -> Done:
            return Done(f"rolled back: {_weights(await self.fleet.ops.rollback())}")

        return self.run("rollback", "rolling back", work)

    def retire(self, generation: str) -> InFlight:
        async def work() -> Done:
            await self.fleet.ops.retire(generation)
            return Done(f"{generation} retired")

        return self.run("retire", f"retiring {generation} (draining)", work)

    # rollouts ----------------------------------------------------------------------------
    def start_rollout(self, generation: str, plan: Plan) -> InFlight:
        """Drive a rollout of ``generation`` (this session holds the rollout lock while
        it runs; progress arrives as :class:`RolloutProgress`)."""

        async def work() -> Done:
            # imported here, where a rollout starts: a session that only reads never does
            from backends.engine import rollout_driver

            done = await rollout_driver.start(self.fleet, generation, plan, self._rollout_line)
            return Done(f"rollout of {done.generation} done: {done.generation} at 100%")

        return self.run("rollout", f"rolling out {generation}", work)

    def pause_rollout(self) -> InFlight:
        async def work() -> Done:
            from backends.engine import rollout_driver

            by = await self.fleet.ops.operator()
            paused = await rollout_driver.pause(self.fleet, f"paused by {by}")
            return Done(f"rollout of {paused.generation} paused")

        return self.run("rollout", "pausing the rollout", work)

    def resume_rollout(self) -> InFlight:
        async def work() -> Done:
            from backends.engine import rollout_driver

            resumed = await rollout_driver.resume(self.fleet, self._rollout_line)
            if resumed.ended:  # driven to its end from here
                return Done(f"rollout of {resumed.generation} {resumed.state.value}")
            # its own driver was woken: the rollout as read before resuming says "paused"
            return Done(f"rollout of {resumed.generation} resumed")

        return self.run("rollout", "resuming the rollout", work)

    def abort_rollout(self, reason: str = "") -> InFlight:
        async def work() -> Done:
            from backends.engine import rollout_driver

            operator = await self.fleet.ops.operator()
            aborted = await rollout_driver.abort(self.fleet, reason or f"aborted by {operator}")
            return Done(
                f"rollout of {aborted.generation} aborted: all traffic on {aborted.baseline}"
            )

        return self.run("rollout", "aborting the rollout", work)

    def _rollout_line(self, text: str) -> None:
        self._tell(RolloutProgress(text))
        self.feed.look_again()

    # running -----------------------------------------------------------------------------
    def run(self, action: str, doing: str, work: Callable[[], Awaitable[Done]]) -> InFlight:
        """Run ``work`` (a mutation through the fleet's ``ops``) as an operation."""
        self._numbers += 1
        holder: list[InFlight] = []

        async def operate() -> None:
            await asyncio.sleep(0)  # let the caller hold the InFlight before it can end
            operation = holder[0]
            try:
                operation.done = await work()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # reported to listeners
                operation.error = error

        task = asyncio.ensure_future(operate())
        operation = InFlight(self._numbers, action, doing, task)
        holder.append(operation)
        self.in_flight.append(operation)
        task.add_done_callback(lambda _: self._ended(operation))
        self._tell(OperationsChanged(tuple(self.in_flight)))
        return operation

    def _ended(self, operation: InFlight) -> None:
        self.feed.journal_view.stale()  # it wrote: the next look reads the journal
        if operation in self.in_flight:
            self.in_flight.remove(operation)
        self._tell(OperationsChanged(tuple(self.in_flight), operation))
        if self.feed.started:
            self.feed.request_read()

    async def finish_operations(self) -> None:
        """Wait until every operation in flight has ended (whoever waits may be
        cancelled; the operations are not)."""
        while self.in_flight:
            await asyncio.wait([asyncio.shield(o.task) for o in self.in_flight])


async def wait_settled(
    fleet: OpenFleet, generation: str, *, timeout: float, degraded_grace: float = DEGRADED_GRACE
) -> Generation:
    """Until every instance of ``generation`` is healthy (returned), or it failed or
    stayed degraded with nothing pending for ``degraded_grace`` seconds (a host
    down: :class:`OperationFailed`); :class:`Unreachable` on timeout. Reads at the
    driver's own pace (``poll_interval``)."""
    deadline = Deadline(timeout)
    sick_since: Deadline | None = None
    found: Generation | None = None
    async for _ in deadline.every(fleet.backend.poll_interval):
        found = (await fleet.read()).generation(generation)
        if found is None:
            raise OperationFailed(f"{generation} disappeared from fleet {fleet.name}")
        healths = [i.health for i in found.instances]
        if healths and all(h is Health.HEALTHY for h in healths):
            return found
        if found.state is GenerationState.FAILED:
            raise OperationFailed(f"{generation} ({found.version}) failed: {_why(found)}")
        settled_sick = found.state is GenerationState.DEGRADED and Health.PENDING not in healths
        if not settled_sick:
            sick_since = None
        elif sick_since is None:
            sick_since = Deadline(degraded_grace)
        elif sick_since.expired:
            raise OperationFailed(
                f"{generation} ({found.version}) is degraded: {found.healthy_count()}/"
                f"{len(healths)} healthy, {_why(found)}"
            )
    healthy = found.healthy_count() if found else 0
    total = len(found.instances) if found else 0
    raise Unreachable(
        f"{generation} not healthy after {timeout:.0f} s ({healthy}/{total} healthy); "
        f"see `molt status {fleet.name}`"
    )


def _weights(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())


def _why(generation: Generation) -> str:
    unhealthy = [i for i in generation.instances if i.health is Health.UNHEALTHY]
    total = len(generation.instances)
    if unhealthy and unhealthy[0].last_check:
        return f"{len(unhealthy)}/{total} unhealthy, {unhealthy[0].last_check}"
    return f"{len(unhealthy)}/{total} instances unhealthy"
