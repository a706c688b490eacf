"""Adopting what runs (issue 21): a listener already forwarding to a target group Molt
did not make shows it as the external generation ``g0``, which Molt shifts traffic from,
rolls out from, and retires only by taking it off the listener."""

from __future__ import annotations

import asyncio
import json

import pytest

from backends.core.errors import Refused
from backends.core.model import GenerationSpec, GenerationState, Health
from backends.core.rollout import Plan, RolloutState
from backends.engine import rollout_driver
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from tests.aws.faults import install
from tests.aws.support import World, averaged_percentiles, molt_toml, serve_as_the_alb
from tests.support.local import molt

#: named so that serve_as_the_alb's "the name's last part is the generation" holds
LEGACY = "legacy-g0"


def what_runs(world: World, weight: int = 1) -> str:
    """The team's service before Molt: two instances in a target group of its own,
    the listener forwarding to it alone (ALB weight ``weight``). Its ARN."""
    ec2, elbv2 = world.client("ec2"), world.client("elbv2")
    arn = elbv2.create_target_group(
        Name=LEGACY, Protocol="HTTP", Port=8080, VpcId=world.vpc_id, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    made = ec2.run_instances(ImageId=world.image, MinCount=2, MaxCount=2)["Instances"]
    elbv2.register_targets(
        TargetGroupArn=arn, Targets=[{"Id": i["InstanceId"], "Port": 8080} for i in made]
    )
    elbv2.modify_listener(
        ListenerArn=world.listener_arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": arn, "Weight": weight}]},
            }
        ],
    )
    return arn


def listener_weights(world: World) -> dict[str, int]:
    listener = world.client("elbv2").describe_listeners(ListenerArns=[world.listener_arn])
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


async def launched(backend, world, session: FleetSession, version: str = "v1") -> str:
    generation = (
        await Operations(backend).launch(
            GenerationSpec(version=version, count=1, artifact=world.image)
        )
    ).id
    await session.wait_settled(generation, timeout=10)
    return generation


async def test_what_runs_behind_the_listener_is_the_external_g0(backend, world):
    what_runs(world)
    (g0,) = (await backend.snapshot()).generations
    assert (g0.id, g0.version, g0.weight, g0.state) == ("g0", "external", 100, GenerationState.LIVE)
    assert g0.external and "not launched by Molt" in g0.note
    assert [i.health for i in g0.instances] == [Health.HEALTHY, Health.HEALTHY]
    assert not (await backend.verify("g0")).drift


def test_molt_status_json_shows_g0_as_external(world, tmp_path):
    what_runs(world)
    done = molt(tmp_path, "status", "web", "--json", config=molt_toml(world, tmp_path / "m.toml"))
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    (g0,) = shown["generations"] if "generations" in shown else shown["fleets"][0]["generations"]
    assert (g0["id"], g0["version"], g0["external"], g0["weight"]) == ("g0", "external", True, 100)


async def test_molt_launches_from_g1_and_shifts_between_g0_and_it(backend, world):
    what_runs(world)
    session = FleetSession.around(backend)
    assert await launched(backend, world, session) == "g1"
    assert listener_weights(world) == {LEGACY: 1, "molt-web-g1": 0}
    assert (await backend.snapshot()).weights == {"g0": 100, "g1": 0}
    await session.ops.shift({"g0": 90, "g1": 10})
    assert listener_weights(world) == {LEGACY: 90, "molt-web-g1": 10}
    assert (await backend.snapshot()).weights == {"g0": 90, "g1": 10}
    await session.ops.rollback()  # back to what ran before Molt
    assert listener_weights(world) == {LEGACY: 100, "molt-web-g1": 0}
    await session.ops.promote("g1")
    assert listener_weights(world) == {LEGACY: 0, "molt-web-g1": 100}
    assert not await backend.differences(await backend.snapshot())


async def test_retiring_g0_only_takes_it_off_the_listener(backend, world):
    arn = what_runs(world)
    session = FleetSession.around(backend)
    await launched(backend, world, session)
    with pytest.raises(Refused, match="g0 still carries 100% of traffic"):
        await session.ops.retire("g0")
    await session.ops.promote("g1")
    await session.ops.retire("g0")
    assert listener_weights(world) == {"molt-web-g1": 100}
    elbv2 = world.client("elbv2")
    assert elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]  # still there
    assert len(elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]) == 2
    assert [g.id for g in (await backend.snapshot()).generations] == ["g1"]


async def test_a_refresh_with_g0_reads_the_listener_and_g0s_health_once(backend, world):
    what_runs(world)
    requests = install(backend)
    session = FleetSession.around(backend)
    await launched(backend, world, session)
    await backend.snapshot()
    requests.sent.clear()
    await backend.snapshot()
    expected = {"DescribeAutoScalingGroups": 1, "DescribeListeners": 1, "DescribeTargetHealth": 2}
    assert dict(requests.sent) == expected
    await session.ops.promote("g1")
    await session.ops.retire("g0")
    requests.sent.clear()
    await backend.snapshot()  # g0 gone: back to 1 + G
    requests.sent.pop("GetMetricData", None)  # once: the target groups to count changed
    assert dict(requests.sent) == {"DescribeAutoScalingGroups": 1, "DescribeTargetHealth": 1}


@pytest.mark.slow
async def test_a_rollout_from_g0_to_molts_first_generation_completes(backend, world):
    what_runs(world, weight=100)
    backend.metrics.source = averaged_percentiles
    session = FleetSession.around(backend)
    await launched(backend, world, session)
    plan = Plan(steps=(50, 100), bake=3, min_requests=100, max_error_increase=0.02)
    said: list[str] = []
    stop = asyncio.Event()
    rates = {"g0": 0.005, "g1": 0.005}
    alb = asyncio.create_task(serve_as_the_alb(world, backend.metrics, rates, stop))
    try:
        done = await asyncio.wait_for(rollout_driver.start(session, "g1", plan, said.append), 40)
    finally:
        stop.set()
        await alb
    assert done.state is RolloutState.DONE and done.weight == 100, said
    assert done.baseline == "g0", said
    assert listener_weights(world) == {LEGACY: 0, "molt-web-g1": 100}


async def test_a_target_group_put_on_the_listener_by_hand_is_never_dropped_unseen(
    backend, world
):
    session = FleetSession.around(backend)
    await launched(backend, world, session)
    await session.ops.promote("g1")
    arn = what_runs(world)  # by hand, after Molt: the listener now forwards to it alone
    assert [g.id for g in (await backend.snapshot()).generations] == ["g1"]  # not seen yet
    with pytest.raises(Refused, match="now shown as g0; nothing was changed"):
        await session.ops.promote("g1")
    assert listener_weights(world) == {LEGACY: 1}
    assert [g.id for g in (await backend.snapshot()).generations] == ["g0", "g1"]
    assert (await backend.snapshot()).generation("g0").extra["target_group"] == arn
