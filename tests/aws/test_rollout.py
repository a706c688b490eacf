"""Progressive rollouts on AWS (moto), judged on the ALB's CloudWatch sums — put by the
test as the ALB would publish them for the listener's current split, from a service
that fails 0.5% of requests in every version: a good version goes all the way, one
failing 30% more is aborted at its first step with all traffic back on the baseline."""

from __future__ import annotations

import asyncio
import re

import pytest

from backends.core.model import GenerationSpec
from backends.core.rollout import Plan, RolloutState
from backends.engine import rollout_driver
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from tests.aws.support import averaged_percentiles, serve_as_the_alb

pytestmark = pytest.mark.slow
PLAN = Plan(steps=(50, 100), bake=3, min_requests=100, max_error_increase=0.02)
NOISY = 0.005  # every version fails this much


def listener_weights(world) -> dict[str, int]:
    """Target group name → weight, as the listener itself says."""
    elbv2 = world.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


async def rollout_with_the_alb(backend, world, version: str, error_rates: dict[str, float]):
    """g1 (v1) at 100% and g2 (``version``) healthy; then g2's rollout, while the ALB
    publishes what each split gives. Returns the session, the rollout's outcome (or
    the error it ended with) and what it said."""
    backend.metrics.source = averaged_percentiles
    ops, session = Operations(backend), FleetSession.around(backend)
    for generation, v in (("g1", "v1"), ("g2", version)):
        await ops.launch(GenerationSpec(version=v, count=1, artifact=world.image))
        await session.wait_settled(generation, timeout=10)
        if generation == "g1":
            await ops.promote("g1")
    said: list[str] = []
    stop = asyncio.Event()
    alb = asyncio.create_task(serve_as_the_alb(world, backend.metrics, error_rates, stop))
    try:
        outcome = await asyncio.wait_for(rollout_driver.start(session, "g2", PLAN, said.append), 40)
    except rollout_driver.RolloutAborted as error:
        outcome = error
    finally:
        stop.set()
        await alb
    return session, outcome, said


async def test_a_good_version_goes_all_the_way(backend, world):
    rates = {"g1": NOISY, "g2": NOISY}
    session, done, said = await rollout_with_the_alb(backend, world, "v2", rates)
    assert done.state is RolloutState.DONE and done.weight == 100, said
    assert any(line.startswith("step 1/2 · 50% · passed · ✓ health") for line in said), said
    assert any("– slow latency not judged: the traffic source" in line for line in said)
    assert listener_weights(world) == {"molt-web-g1": 0, "molt-web-g2": 100}
    shifts = [r for r in await session.history() if r.action == "shift" and r.args.get("rollout")]
    evidence = {c["measure"]: c for c in shifts[-1].args["evidence"]}  # what passed step 1
    assert evidence["5xx"]["state"] == "passed"
    assert evidence["5xx"]["canary"]["requests"] >= 100  # counted by CloudWatch


async def test_a_version_failing_30_percent_is_aborted_at_its_first_step(backend, world):
    rates = {"g1": NOISY, "g2": NOISY + 0.3}
    session, aborted, said = await rollout_with_the_alb(backend, world, "v2-errors", rates)
    assert isinstance(aborted, rollout_driver.RolloutAborted), said
    reason = aborted.message
    shown = (
        r"g2 5xx (\d+)% \(\d+/\d+\) vs [\d.]+% on g1, "
        r"shown over the (?:2-point margin|1.0% ceiling) at step 50%"
    )
    assert re.fullmatch(shown, reason), reason
    assert 15 <= int(re.fullmatch(shown, reason).group(1)) <= 50
    assert listener_weights(world) == {"molt-web-g1": 100, "molt-web-g2": 0}
    rollout = await rollout_driver.current(session)
    assert (rollout.state, rollout.step, rollout.reason) == (RolloutState.ABORTED, 1, reason)
