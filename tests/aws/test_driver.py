"""The AWS driver against moto: what an operator would see in AWS after each action."""

from __future__ import annotations

import asyncio

import pytest

from backends.core.errors import NotFound, Refused
from backends.core.journal import Outcome
from backends.core.model import GenerationSpec, GenerationState, Health
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from tests.support.waiting import until


def spec(version: str = "v1", count: int = 2, image: str | None = None) -> GenerationSpec:
    return GenerationSpec(version=version, count=count, artifact=image, launched_by="alice")


def tags(items) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items}


def listener_weights(world) -> dict[str, int]:
    """Target group name → weight, as the listener's default action says."""
    elbv2 = world.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


async def test_launch_makes_a_tagged_group_target_group_and_template_version(backend, world):
    generation = await backend.launch(spec("v1", image=world.image))
    assert (generation.id, generation.weight) == ("g1", 0)
    group = world.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["molt-web-g1"]
    )["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 2
    assert group["LaunchTemplate"]["Version"] == "1"
    expected = {"molt:fleet": "web", "molt:generation": "g1", "molt:version": "v1",
                "molt:launched-by": "alice"}
    assert expected.items() <= tags(group["Tags"]).items()
    elbv2 = world.client("elbv2")
    target_group = elbv2.describe_target_groups(Names=["molt-web-g1"])["TargetGroups"][0]
    assert group["TargetGroupARNs"] == [target_group["TargetGroupArn"]]
    assert target_group["HealthCheckPath"] == "/healthz"
    tg_tags = elbv2.describe_tags(ResourceArns=[target_group["TargetGroupArn"]])
    assert expected.items() <= tags(tg_tags["TagDescriptions"][0]["Tags"]).items()
    assert listener_weights(world) == {"molt-web-g1": 0}
    versions = world.client("ec2").describe_launch_template_versions(
        LaunchTemplateName="molt-web"
    )["LaunchTemplateVersions"]
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions] == [world.image]


async def test_generations_are_rediscovered_from_aws_by_a_fresh_backend(backend, world, tmp_path):
    from backends.aws.driver import AwsBackend

    await backend.launch(spec("v1", image=world.image))
    await backend.launch(spec("v2", count=1, image=world.other_image))
    fresh = AwsBackend(backend.config, tmp_path / "elsewhere")
    snapshot = await fresh.snapshot()
    assert [(g.id, g.version, g.artifact, len(g.instances)) for g in snapshot.generations] == [
        ("g1", "v1", world.image, 2),
        ("g2", "v2", world.other_image, 1),
    ]
    assert all(i.address.endswith(":8080") for g in snapshot.generations for i in g.instances)
    await fresh.close()


async def test_weights_are_percents_on_the_listener(backend, world):
    for version in ("v1", "v2"):
        await backend.launch(spec(version, count=1, image=world.image))
    await backend.set_weights({"g1": 70, "g2": 30})
    assert listener_weights(world) == {"molt-web-g1": 70, "molt-web-g2": 30}
    assert (await backend.snapshot()).weights == {"g1": 70, "g2": 30}


async def test_pending_then_unhealthy_targets_fail_the_generation(backend, world, health):
    health.pending_for = 0.6
    await backend.launch(spec("v2-bad", image=world.image))
    first = (await backend.snapshot()).generations[0]
    assert [i.health for i in first.instances] == [Health.PENDING] * 2
    assert first.state is GenerationState.LAUNCHING

    def failed_first(snapshot) -> bool:
        return snapshot.generations[0].state is GenerationState.FAILED

    failed = (await until(backend.snapshot, failed_first, timeout=10)).generations[0]
    assert "Health checks failed with these codes: [500]" in failed.instances[0].last_check


async def test_one_unhealthy_instance_degrades_the_generation(backend, world, health):
    await backend.launch(spec("v1", image=world.image))
    victim = (await backend.snapshot()).generations[0].instances[0].id
    health.states[victim] = "unhealthy"
    generation = (await backend.snapshot()).generations[0]
    assert generation.state is GenerationState.DEGRADED
    assert generation.healthy_count() == 1


async def test_retire_waits_for_draining_targets_then_deletes_group_and_target_group(
    world, backend, health
):
    generation = await backend.launch(spec("v1", count=1, image=world.image))
    instance = (await backend.snapshot()).generations[0].instances[0].id
    health.states[instance] = "draining"  # moto forgets targets at once; the ALB would not

    loop = asyncio.get_running_loop()

    def draining(snapshot) -> bool:
        return [g.state for g in snapshot.generations] == [GenerationState.DRAINING]

    async def drained_soon():
        (retiring,) = (await until(backend.snapshot, draining, timeout=10)).generations
        await asyncio.sleep(0.3)  # the targets take a while to drain: the retire waits
        health.states.pop(instance)
        return retiring, loop.time()

    async def retire():
        await backend.retire(generation.id)
        return loop.time()

    retired_at, (retiring, drained_at) = await asyncio.gather(retire(), drained_soon())
    assert retiring.state is GenerationState.DRAINING
    assert retired_at >= drained_at
    assert (await backend.snapshot()).generations == ()
    assert world.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["molt-web-g1"]
    )["AutoScalingGroups"] == []
    assert world.client("elbv2").describe_target_groups()["TargetGroups"] == []
    action = world.client("elbv2").describe_listeners(ListenerArns=[world.listener_arn])
    assert action["Listeners"][0]["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "503"
    versions = world.client("ec2").describe_launch_template_versions(
        LaunchTemplateName="molt-web"
    )["LaunchTemplateVersions"]
    assert len(versions) == 1  # kept for history


async def test_retire_refuses_a_generation_the_listener_still_sends_traffic_to(backend, world):
    await backend.launch(spec("v1", count=1, image=world.image))
    await backend.set_weights({"g1": 100})
    with pytest.raises(Refused, match="g1 still carries 100%"):
        await backend.retire("g1")
    assert [g.id for g in (await backend.snapshot()).generations] == ["g1"]


async def test_verify_reports_a_group_moved_to_another_template_version(backend, world):
    await backend.launch(spec("v1", count=1, image=world.image))
    await backend.launch(spec("v2", count=1, image=world.other_image))
    assert (await backend.verify("g1")).clean
    world.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="molt-web-g1",
        LaunchTemplate={"LaunchTemplateName": "molt-web", "Version": "2"},
    )
    report = await backend.verify("g1")
    assert not report.clean
    assert "launch template version 2, launched as 1" in report.drift[0].path


async def test_verify_reports_listener_weights_changed_behind_molts_back(backend, world):
    await backend.launch(spec("v1", count=1, image=world.image))
    await backend.set_weights({"g1": 100})
    elbv2 = world.client("elbv2")
    arn = elbv2.describe_target_groups(Names=["molt-web-g1"])["TargetGroups"][0]["TargetGroupArn"]
    forward = {"TargetGroups": [{"TargetGroupArn": arn, "Weight": 0}]}
    elbv2.modify_listener(
        ListenerArn=world.listener_arn,
        DefaultActions=[{"Type": "forward", "ForwardConfig": forward}],
    )
    report = await backend.verify("g1")
    assert [(d.host, d.path) for d in report.drift] == [
        ("listener", "weight 0% on the listener, 100% as Molt set it")
    ]


async def test_weights_for_an_unknown_generation_are_refused(backend, world):
    await backend.launch(spec("v1", count=1, image=world.image))
    with pytest.raises(Refused, match="missing g1; unknown g7"):
        await backend.set_weights({"g7": 100})
    with pytest.raises(NotFound, match="no generation g7"):
        await backend.retire("g7")


async def test_operations_journal_to_cloudwatch_logs_with_the_sts_identity(backend, world):
    ops = Operations(backend)
    await ops.launch(spec("v1", count=1, image=world.image))
    await FleetSession.around(backend).wait_settled("g1", timeout=10)
    await ops.promote("g1")
    operator = await backend.operator()
    assert operator.startswith("arn:aws:sts::") or operator.startswith("arn:aws:iam::")
    events = world.client("logs").get_log_events(
        logGroupName="/molt/web", logStreamName="journal", startFromHead=True
    )["events"]
    assert len(events) == 4  # started + outcome, twice
    assert operator in events[0]["message"]
    records = await backend.journal.records("web")
    assert [(r.action, r.outcome, r.operator) for r in records] == [
        ("launch", Outcome.OK, operator),
        ("promote", Outcome.OK, operator),
    ]


async def test_history_of_a_fleet_never_journaled_is_empty(backend):
    assert await backend.journal.records("web") == []


async def test_verify_reports_an_instance_attached_by_hand(backend, world):
    await backend.launch(spec("v1", count=1, image=world.image))
    ec2 = world.client("ec2")
    stray = ec2.run_instances(ImageId=world.other_image, MinCount=1, MaxCount=1,
                              SubnetId=world.subnets[0])["Instances"][0]["InstanceId"]
    autoscaling = world.client("autoscaling")
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="molt-web-g1", MaxSize=2)
    autoscaling.attach_instances(InstanceIds=[stray], AutoScalingGroupName="molt-web-g1")
    report = await backend.verify("g1")
    assert {(d.host, d.path) for d in report.drift} >= {
        (stray, "not launched from the fleet's launch template"),
        (stray, f"image {world.other_image}, not {world.image}"),
    }


async def test_a_sixth_generation_is_refused_before_anything_is_made(backend, world):
    for number in range(1, 6):
        await backend.launch(spec(f"v{number}", count=1, image=world.image))
    with pytest.raises(Refused, match="already forwards to 5 target groups"):
        await backend.launch(spec("v6", count=1, image=world.image))
    groups = world.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert len(groups) == 5
