"""The operator's hand wins, on the in-memory backend: a change by hand during a rollout
pauses it and is never overwritten; ``--resume`` goes on from the weights as they are;
what a rollout cannot judge (a third generation with traffic, a retired baseline) is
refused; a driver that lost its lease changes nothing more."""

from __future__ import annotations

import asyncio

import pytest

from backends.core.errors import Refused
from backends.core.events import OperatorAction
from backends.core.locking import ROLLOUT_LOCK, Lease
from backends.core.model import Lifecycle
from backends.core.rollout import Plan, RolloutState
from backends.engine import rollout_driver
from backends.engine.session import FleetSession
from tests.support.synthetic import SyntheticBackend
from tests.unit.test_rollout_inconclusive import until

PLAN = Plan(steps=(10, 50, 100), bake=60, min_requests=100)  # a long bake: the test acts
QUICK = Plan(steps=(10, 50, 100), bake=0.3, min_requests=100)


def fleet(generations: int = 2) -> tuple[SyntheticBackend, FleetSession]:
    backend = SyntheticBackend()
    backend.add_generation("v1", 2, weight=100)
    for n in range(2, generations + 1):
        backend.add_generation(f"v{n}", 2)
    backend.set_traffic("g1", rps=200.0)
    backend.set_traffic("g2", rps=5000.0)
    return backend, FleetSession.around(backend)


async def test_a_shift_by_hand_pauses_the_rollout_and_is_never_overwritten():
    backend, session = fleet()
    driving = asyncio.create_task(rollout_driver.start(session, "g2", PLAN, lambda _: None))
    await until(session, RolloutState.RUNNING, step=1)
    await backend.elsewhere("bob").shift({"g1": 100, "g2": 0})  # pulled back by hand
    paused = await until(session, RolloutState.PAUSED, step=None)
    assert paused.reason == "bob shifted by hand"
    await asyncio.sleep(2.5)  # the driver ticks on, and leaves the weights alone
    assert (await session.read()).weights == {"g1": 100, "g2": 0}
    records = [r for r in await session.history() if r.action == "rollout"]
    assert records[-1].args["event"] == "pause" and records[-1].args["reason"] == paused.reason
    await rollout_driver.abort(session, "enough")
    with pytest.raises(rollout_driver.RolloutAborted):
        await asyncio.wait_for(driving, 10)


async def test_resume_goes_on_from_the_weights_as_they_are():
    backend, session = fleet()
    driving = asyncio.create_task(rollout_driver.start(session, "g2", QUICK, lambda _: None))
    await until(session, RolloutState.RUNNING, step=1)
    await backend.elsewhere("bob").shift({"g1": 50, "g2": 50})  # by hand, to 50%
    await until(session, RolloutState.PAUSED, step=None)
    said: list[str] = []
    await rollout_driver.resume(FleetSession.around(backend), said.append)
    resumed = await until(session, RolloutState.RUNNING, step=None)
    assert resumed.step == 1 and said == ["rollout of g2 resumed from the weights as they are"]
    shifts = []
    done = await asyncio.wait_for(driving, 15)
    for record in await session.history():
        if record.action == "shift" and record.args.get("rollout") == done.id:
            shifts.append(record.args["weights"]["g2"])
    assert shifts == [10, 50, 100]  # 50% baked once, by the step at 50: never back to 10%
    assert done.state is RolloutState.DONE


async def test_a_third_generation_with_traffic_is_refused_with_the_shift_that_clears_it():
    backend, session = fleet(generations=3)
    await backend.elsewhere().shift({"g1": 90, "g2": 10, "g3": 0})
    with pytest.raises(Refused) as refused:
        await rollout_driver.start(session, "g3", PLAN, lambda _: None)
    assert str(refused.value.message) == (
        "g2 carries 10%: a rollout moves traffic between g3 and its baseline g1 only; give "
        "that traffic to the baseline first: `molt shift web g1=100 g2=0 g3=0`"
    )
    assert await rollout_driver.current(session) is None  # nothing started, nothing journaled


async def test_the_baseline_of_a_running_rollout_cannot_be_retired():
    backend, session = fleet()
    backend.add_generation("v0", 2)  # g3: unrelated, at 0%
    driving = asyncio.create_task(rollout_driver.start(session, "g2", PLAN, lambda _: None))
    await until(session, RolloutState.RUNNING, step=1)
    await backend.elsewhere().shift({"g1": 0, "g2": 10, "g3": 90})  # pauses the rollout
    await until(session, RolloutState.PAUSED, step=None)
    with pytest.raises(Refused, match=r"g1 is the baseline of the rollout of g2 \(paused\)"):
        await session.ops.retire("g1")
    assert any(g.id == "g1" for g in (await session.read()).generations)
    await rollout_driver.abort(session, "enough")
    with pytest.raises(rollout_driver.RolloutAborted):
        await asyncio.wait_for(driving, 10)


async def test_an_automatic_abort_is_said_as_the_judges():
    backend, session = fleet()
    backend.set_traffic("g2", rps=200.0, error_rate=0.3)
    with pytest.raises(rollout_driver.RolloutAborted, match="g2 5xx 3"):
        await asyncio.wait_for(rollout_driver.start(session, "g2", PLAN, lambda _: None), 10)
    aborted = await rollout_driver.current(session)
    assert aborted.state is RolloutState.ABORTED
    assert aborted.by == "the rollout judge" and aborted.reason.startswith("g2 5xx ")
    assert (await session.read()).weights == {"g1": 100, "g2": 0}
    (abort,) = [r for r in await session.history() if r.args.get("event") == "abort"]
    line = OperatorAction(fleet="web", at=abort.at, record=abort).text()
    assert line.startswith("rollout judge aborted g2 (started by alice) — g2 5xx ")
    assert abort.args["evidence"][1]["state"] == "failed"  # the counts that decided it
    assert abort.args["evidence"][1]["canary"]["errors"] >= 3


async def test_a_driver_that_lost_its_lease_changes_nothing_more():
    backend, session = fleet()
    said: list[str] = []
    driving = asyncio.create_task(rollout_driver.start(session, "g2", QUICK, said.append))
    rollout = await until(session, RolloutState.RUNNING, step=1)
    # the driver froze past its lease's time to live; another Molt drives it now
    backend.leases[ROLLOUT_LOCK] = Lease.new("bob", "rollout g2", rollout.id, lock=ROLLOUT_LOCK)
    with pytest.raises(rollout_driver.LeaseLost, match="lost the rollout lease"):
        await asyncio.wait_for(driving, 10)
    assert (await session.read()).weights == {"g1": 90, "g2": 10}  # step 2 never set


async def test_an_abort_whose_baseline_is_gone_says_so_and_leaves_the_weights():
    backend, session = fleet()
    driving = asyncio.create_task(rollout_driver.start(session, "g2", PLAN, lambda _: None))
    await until(session, RolloutState.RUNNING, step=1)
    backend.generations["g1"].lifecycle = Lifecycle.RETIRED  # gone behind Molt's back
    gone = "the baseline g1 is gone: weights left"
    with pytest.raises(rollout_driver.RolloutAborted, match=gone):
        await rollout_driver.abort(session, "stop")
    assert (await session.read()).weights == {"g2": 10}
    assert (await rollout_driver.current(session)).state is RolloutState.ABORTED
    with pytest.raises(rollout_driver.RolloutAborted):
        await asyncio.wait_for(driving, 10)
