"""What an operator sees when AWS refuses, throttles or lacks something: one line naming
the resource and what to do — and a fleet left as it was (or visibly failed)."""

from __future__ import annotations

import asyncio

import pytest

from backends.aws.driver import AwsBackend
from backends.core.errors import AuthError, NotFound, OperationFailed, Throttled, Unreachable
from backends.core.events import ReadError
from backends.core.journal import Outcome
from backends.core.model import GenerationSpec, GenerationState
from backends.engine.operations import Operations
from tests.aws.faults import install
from tests.aws.support import aws_fleet


@pytest.fixture
def faults(backend):
    """Installed before the backend makes its first client; rules are added later."""
    return install(backend)


def spec(version: str = "v1", image: str | None = None) -> GenerationSpec:
    return GenerationSpec(version=version, count=1, artifact=image, launched_by="alice")


def default_action(world) -> dict:
    listener = world.client("elbv2").describe_listeners(ListenerArns=[world.listener_arn])
    return listener["Listeners"][0]["DefaultActions"][0]


def leftovers(world) -> tuple[list[str], list[str]]:
    groups = world.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    target_groups = world.client("elbv2").describe_target_groups()["TargetGroups"]
    return (
        [g["AutoScalingGroupName"] for g in groups],
        [t["TargetGroupName"] for t in target_groups],
    )


def one_line(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


async def test_throttling_is_retried_then_succeeds(backend, faults):
    faults.fail("DescribeAutoScalingGroups", "Throttling", message="Rate exceeded", times=2)
    assert (await backend.snapshot()).generations == ()
    assert faults.sent["DescribeAutoScalingGroups"] == 3


async def test_throttling_that_does_not_stop_is_one_clear_error_and_changes_nothing(
    backend, faults, world
):
    await backend.launch(spec(image=world.image))
    await backend.set_weights({"g1": 100})
    faults.fail("ModifyListener", "Throttling", message="Rate exceeded")
    with pytest.raises(Throttled) as caught:
        await backend.set_weights({"g1": 0})
    message = one_line(caught.value)
    assert "throttling ModifyListener on listener arn:aws:elasticloadbalancing" in message
    assert "after 3 attempts" in message
    assert faults.failed["ModifyListener"] == 3  # the first call and two retries
    assert default_action(world)["ForwardConfig"]["TargetGroups"][0]["Weight"] == 100
    assert (await backend.snapshot()).weights == {"g1": 100}


async def test_access_denied_is_not_retried_and_is_journaled(backend, faults, world):
    await backend.launch(spec(image=world.image))
    faults.fail("ModifyListener", "AccessDenied", status=403,
                message="User: arn:aws:iam::123456789012:user/bob is not authorized to perform: "
                        "elasticloadbalancing:ModifyListener")
    with pytest.raises(AuthError) as caught:
        await Operations(backend).promote("g1")
    message = one_line(caught.value)
    listener = backend.settings.listener_arn
    assert message.startswith(f"AWS denied ModifyListener on listener {listener}")
    assert "IAM policy" in message
    assert faults.failed["ModifyListener"] == 1
    records = await backend.journal.records("web")
    assert (records[-1].action, records[-1].outcome) == ("promote", Outcome.FAILED)
    assert (await backend.snapshot()).weights == {"g1": 0}


async def test_expired_credentials_say_to_refresh_them(backend, faults):
    faults.fail("DescribeAutoScalingGroups", "ExpiredToken", status=403,
                message="The security token included in the request is expired")
    with pytest.raises(AuthError, match=r"credentials have expired .*refresh them"):
        await backend.snapshot()


async def test_a_nonexistent_ami_is_named_and_nothing_is_created(backend, world):
    before = default_action(world)
    with pytest.raises(NotFound) as caught:
        await backend.launch(spec(image="ami-0123456789abcdef0"))
    assert one_line(caught.value).startswith("AMI ami-0123456789abcdef0 in eu-west-1: not found")
    assert leftovers(world) == ([], [])
    assert default_action(world) == before
    assert (await backend.snapshot()).generations == ()


async def test_a_nonexistent_subnet_is_named(world, tmp_path):
    backend = AwsBackend(aws_fleet(world, subnets=("subnet-0badbadbadbadbad0",)), tmp_path)
    with pytest.raises(NotFound, match="subnet-0badbadbadbadbad0"):
        await backend.launch(spec(image=world.image))
    assert leftovers(world) == ([], [])


async def test_a_missing_listener_is_named(world, tmp_path):
    missing = world.listener_arn.rsplit("/", 1)[0] + "/0000000000000000"
    backend = AwsBackend(aws_fleet(world, listener_arn=missing), tmp_path)
    with pytest.raises(NotFound) as caught:
        await backend.launch(spec(image=world.image))
    assert one_line(caught.value).startswith(f"listener {missing}: not found (ListenerNotFound")
    assert "listener_arn in molt.toml" in str(caught.value)
    assert leftovers(world) == ([], [])


async def test_an_unreachable_endpoint_is_one_line(world, tmp_path):
    backend = AwsBackend(aws_fleet(world, endpoint_url="http://127.0.0.1:9"), tmp_path)
    with pytest.raises(Unreachable, match=r"cannot reach AWS for the Auto Scaling groups"):
        await backend.snapshot()


async def test_a_launch_failing_half_way_removes_what_it_made(backend, faults, world):
    before = default_action(world)
    faults.fail("AttachLoadBalancerTargetGroups", "ValidationError", message="injected failure")
    with pytest.raises(OperationFailed) as caught:
        await backend.launch(spec(image=world.image))
    message = one_line(caught.value)
    assert message.startswith("launch of g1 failed, nothing left behind:")
    assert "injected failure" in message
    assert leftovers(world) == ([], [])
    assert default_action(world) == before  # the 404 the operator had, not a forward
    faults.rules.clear()
    assert (await backend.launch(spec(image=world.image))).id == "g2"  # never reused


async def test_a_launch_that_cannot_clean_up_is_left_failed_and_retireable(
    backend, faults, world
):
    faults.fail("AttachLoadBalancerTargetGroups", "ValidationError", message="injected failure")
    faults.fail("DeleteAutoScalingGroup", "ServiceUnavailable", status=400, message="down")
    with pytest.raises(OperationFailed, match=r"left as a failed generation .*molt retire web g1"):
        await backend.launch(spec(image=world.image))
    faults.rules.clear()
    (generation,) = (await backend.snapshot()).generations
    assert (generation.id, generation.state) == ("g1", GenerationState.FAILED)
    await backend.retire("g1")
    assert leftovers(world) == ([], [])
    assert (await backend.snapshot()).generations == ()


async def test_watch_shows_throttling_as_an_event_and_carries_on(backend, faults):
    faults.fail("DescribeAutoScalingGroups", "Throttling", message="Rate exceeded", times=3)

    async def first_two():
        events = []
        async for event in backend.watch():
            events.append(event)
            if len(events) == 2:
                return events

    error, recovered = await asyncio.wait_for(first_two(), 30)
    assert isinstance(error, ReadError) and error.title == "Throttled"
    assert error.message.startswith("AWS kept throttling DescribeAutoScalingGroups")
    assert isinstance(recovered, ReadError) and recovered.cleared
