"""Rollouts that cannot judge, and rollouts that collide, on the in-memory backend: too
few requests pause a rollout as *inconclusive* (weights where they are) until someone
resumes it; a second rollout on a fleet is refused, naming the first; an abort that
meets a step in flight still wins."""

from __future__ import annotations

import asyncio
import re

import pytest

from backends.core.errors import Refused
from backends.core.rollout import Plan, RolloutState
from backends.engine import rollout_driver
from backends.engine.session import FleetSession
from tests.support.synthetic import SyntheticBackend

PLAN = Plan(steps=(50, 100), bake=0.5, min_requests=100)
BUSY = 5000.0  # req/s: a clean generation shows ≤ +0.5 points within a bake


def fleet() -> tuple[SyntheticBackend, FleetSession]:
    """g1 live at 100% with plenty of requests; g2 healthy at 0% and barely any (6 a
    minute); g3 healthy at 0%."""
    backend = SyntheticBackend()
    backend.add_generation("v1", 2, weight=100)
    backend.add_generation("v2", 2)
    backend.add_generation("v3", 2)
    backend.set_traffic("g1", rps=20.0)
    backend.set_traffic("g2", rps=0.1)
    return backend, FleetSession.around(backend)


async def until(session: FleetSession, state: RolloutState, step: int | None = 1):
    async with asyncio.timeout(10):
        while True:
            rollout = await rollout_driver.current(session)
            if rollout is not None and rollout.state is state and step in (None, rollout.step):
                return rollout
            await asyncio.sleep(0.05)


async def test_too_few_requests_end_the_rollout_inconclusive_until_resumed():
    backend, session = fleet()
    said: list[str] = []
    with pytest.raises(rollout_driver.RolloutInconclusive) as ended:
        await asyncio.wait_for(rollout_driver.start(session, "g2", PLAN, said.append), 10)
    assert re.match(
        r"g2 could not show 5xx within the margins at step 50% in 0:0\d: ", ended.value.message
    )
    assert ended.value.message.endswith(
        "`molt rollout web --resume` goes on from the weights as they are"
    )
    rollout = await rollout_driver.current(session)
    assert rollout.state is RolloutState.INCONCLUSIVE  # not interrupted: the judge ended it
    assert "more requests · ETA" in rollout.reason and "at 0.1 req/s" in rollout.reason
    assert (await session.read()).weights == {"g1": 50, "g2": 50, "g3": 0}  # at the step

    backend.set_traffic("g2", rps=BUSY)  # enough requests to show it within a bake
    done = await asyncio.wait_for(rollout_driver.resume(session, said.append), 10)
    assert (done.state, done.weight) == (RolloutState.DONE, 100)
    assert (await session.read()).weights == {"g1": 0, "g2": 100, "g3": 0}


async def test_a_second_rollout_on_the_fleet_is_refused_naming_the_first():
    backend, session = fleet()
    backend.set_traffic("g2", rps=BUSY)
    baking = Plan(steps=(50, 100), bake=60, min_requests=100)
    driving = asyncio.create_task(rollout_driver.start(session, "g2", baking, lambda _: None))
    await until(session, RolloutState.RUNNING)
    other = FleetSession.around(backend)  # another terminal, same fleet
    with pytest.raises(Refused, match=r"already has a rollout of g2 \(running, by alice\)"):
        await rollout_driver.start(other, "g3", PLAN, lambda _: None)
    assert (await session.read()).weights == {"g1": 50, "g2": 50, "g3": 0}
    await rollout_driver.abort(other, "one at a time")
    with pytest.raises(rollout_driver.RolloutAborted, match="aborted by alice: one at a time"):
        await asyncio.wait_for(driving, 10)


async def test_two_rollouts_started_at_once_one_is_refused_naming_the_other():
    backend, session = fleet()
    other = FleetSession.around(backend)
    first = asyncio.create_task(rollout_driver.start(session, "g2", PLAN, lambda _: None))
    second = asyncio.create_task(rollout_driver.start(other, "g3", PLAN, lambda _: None))
    done, running = await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
    (refused,) = done
    winner = "g2" if refused is second else "g3"
    with pytest.raises(Refused, match=f"rollout (of |driven by .*rollout ){winner}"):
        refused.result()
    (driver,) = running
    await until(session, RolloutState.RUNNING, step=None)
    await rollout_driver.abort(session, "enough")
    with pytest.raises(rollout_driver.RolloutAborted):
        await asyncio.wait_for(driver, 10)


class HeldShifts(SyntheticBackend):
    """Once ``gate`` is set, shifts wait at it — holding the fleet lock, as a slow
    shift does."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def _set_weights(self, weights):
        if self.gate is not None:
            self.waiting.set()
            await self.gate.wait()
        await super()._set_weights(weights)


async def test_an_abort_meeting_a_step_in_flight_wins():
    backend = HeldShifts()
    backend.add_generation("v1", 2, weight=100)
    backend.add_generation("v2", 2)
    backend.set_traffic("g1", rps=20.0)
    backend.set_traffic("g2", rps=BUSY)
    session, other = FleetSession.around(backend), FleetSession.around(backend)
    driving = asyncio.create_task(rollout_driver.start(session, "g2", PLAN, lambda _: None))
    await until(session, RolloutState.RUNNING)
    backend.gate = asyncio.Event()
    await asyncio.wait_for(backend.waiting.wait(), 10)  # step 2's shift holds the lock
    aborting = asyncio.create_task(rollout_driver.abort(other, "stop"))
    await asyncio.sleep(0.2)
    backend.gate.set()  # step 2 lands (g2 at 100%), then the abort waited for goes on
    backend.gate = None
    await asyncio.wait_for(aborting, 10)
    with pytest.raises(rollout_driver.RolloutAborted, match="aborted by alice: stop"):
        await asyncio.wait_for(driving, 10)
    assert (await session.read()).weights == {"g1": 100, "g2": 0}
    assert (await rollout_driver.current(session)).state is RolloutState.ABORTED
