"""A p99 over its limit holds a rollout's step, and aborts it only once it has stayed over
for a whole traffic window: a stall of the machine that made a few requests slow does not
send a good release back, a release that really is slower still is."""

from __future__ import annotations

import asyncio

import pytest

from backends import rollout_run
from backends.rollout import Plan, RolloutState
from backends.session import FleetSession
from tests.support.synthetic import SyntheticBackend

WINDOW_S = 3.0
PLAN = Plan(steps=(50, 100), bake=0.5, min_requests=100)


def fleet() -> tuple[SyntheticBackend, FleetSession]:
    """g1 live at 100% (p99 10 ms); g2 healthy at 0%, its p99 40 ms: over the limit
    (15 ms), on enough requests (150 a window) to be judged."""
    backend = SyntheticBackend()
    backend.add_generation("v1", 2, weight=100)
    backend.add_generation("v2", 2)
    backend.set_traffic("g1", rps=50.0, p99_ms=10.0, window_s=WINDOW_S)
    backend.set_traffic("g2", rps=50.0, p99_ms=40.0, window_s=WINDOW_S)
    return backend, FleetSession.around(backend)


async def held(said: list[str]) -> str:
    async with asyncio.timeout(10):
        while not any("p99 over for" in line for line in said):
            await asyncio.sleep(0.05)
    return next(line for line in said if "p99 over for" in line)


async def test_a_tail_that_comes_back_under_its_limit_holds_the_step_then_goes_on():
    backend, session = fleet()
    said: list[str] = []
    driving = asyncio.create_task(rollout_run.start(session, "g2", PLAN, said.append))
    line = await held(said)
    assert "✗ p99 40 ms" in line and f"aborts if still over at {WINDOW_S:.0f} s" in line
    await asyncio.sleep(1.0)  # past the bake: the step is held, not passed
    assert not driving.done()
    assert (await session.read()).weights == {"g1": 50, "g2": 50}

    backend.set_traffic("g2", rps=50.0, p99_ms=12.0, window_s=WINDOW_S)  # the stall is over
    done = await asyncio.wait_for(driving, 15)
    assert (done.state, done.weight) == (RolloutState.DONE, 100)
    assert (await session.read()).weights == {"g1": 0, "g2": 100}


async def test_a_tail_that_stays_over_its_limit_for_a_window_aborts_the_rollout():
    backend, session = fleet()
    said: list[str] = []
    driving = asyncio.create_task(rollout_run.start(session, "g2", PLAN, said.append))
    await held(said)
    assert not driving.done()  # not at the first slow read
    reason = r"g2 p99 40 ms > max 15 ms \(baseline g1 10 ms\) at step 50%"
    with pytest.raises(rollout_run.RolloutAborted, match=reason):
        await asyncio.wait_for(driving, 15)
    assert (await session.read()).weights == {"g1": 100, "g2": 0}
    assert (await rollout_run.current(session)).state is RolloutState.ABORTED
