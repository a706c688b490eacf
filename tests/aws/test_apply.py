"""A look never writes on AWS (issue 18): with the listener's weights changed by hand,
reading the fleet — snapshot, watch, verify, ``molt status`` — sends no mutating call
(counted at botocore's ``before-send`` hook) and reports the difference naming
``molt apply``, which sets the listener back to the weights Molt recorded: locked,
journaled, refused read-only, and a no-op once nothing differs."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from backends.aws.driver import AwsBackend
from backends.core.errors import Refused
from backends.core.journal import Outcome
from backends.core.model import GenerationSpec
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from tests.aws.faults import install
from tests.aws.support import aws_fleet, molt_toml
from tests.support.local import molt

#: the verbs of calls that change something in AWS
WRITES = ("Modify", "Add", "Remove", "Put", "Create", "Delete", "Register", "Deregister",
          "Update", "Set", "Attach", "Detach", "Terminate", "Run")


def by_hand(world, backend: AwsBackend, weights: dict[str, int]) -> None:
    """An engineer edits the listener in the console: ``weights`` by target group."""
    elbv2 = world.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
    config = listener["DefaultActions"][0]["ForwardConfig"]
    for group in config["TargetGroups"]:
        group["Weight"] = weights[group["TargetGroupArn"]]
    actions = [{"Type": "forward", "ForwardConfig": config}]
    elbv2.modify_listener(ListenerArn=world.listener_arn, DefaultActions=actions)


def on_listener(world) -> list[int]:
    elbv2 = world.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
    return [g["Weight"] for g in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]]


@pytest.fixture
async def hand_edited(backend, world):
    """g1 and g2 launched, g1 promoted by Molt, then the listener set to 50/50 by hand
    (every call the backend makes is counted in ``backend.requests``)."""
    backend.requests = install(backend)
    ops = Operations(backend)
    for version in ("v1", "v2"):
        await ops.launch(GenerationSpec(version=version, count=1, artifact=world.image))
    await FleetSession.around(backend).wait_settled("g2", timeout=20)
    await ops.promote("g1")
    groups = [g.extra["target_group"] for g in (await backend.snapshot()).generations]
    by_hand(world, backend, {groups[0]: 50, groups[1]: 50})
    return ops


def writes(sent) -> dict[str, int]:
    return {op: n for op, n in sent.items() if op.startswith(WRITES)}


async def test_reading_a_hand_edited_listener_writes_nothing(backend, world, hand_edited):
    requests = backend.requests
    requests.sent.clear()
    snapshot = await backend.snapshot()
    assert snapshot.weights == {"g1": 100, "g2": 0}  # what Molt set
    found = await backend.differences(snapshot)
    assert found == ("the listener sends g1 50%, Molt set 100%; the listener sends g2 50%, "
                     "Molt set 0%; `molt apply web` sets it back",)
    await backend.verify("g1")
    session = FleetSession.around(backend)
    session.start()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):  # the TUI's session: reads, watch, attention
            await asyncio.Event().wait()
    await session.close()
    assert requests.sent["DescribeAutoScalingGroups"] >= 3  # it really looked, often
    assert writes(requests.sent) == {}
    assert on_listener(world) == [50, 50]


async def test_molt_apply_sets_the_listener_back_once_journaled(backend, world, hand_edited,
                                                                tmp_path):
    viewer = AwsBackend(aws_fleet(world), tmp_path, read_only=True)
    with pytest.raises(Refused, match="read-only mode: apply is not allowed"):
        await Operations(viewer).apply()
    await viewer.close()
    assert on_listener(world) == [50, 50]
    done = await hand_edited.apply()
    assert done == ("the listener sends g1=100 g2=0 again, as Molt recorded",)
    assert on_listener(world) == [100, 0]
    applied = [r for r in await backend.journal.records("web") if r.action == "apply"]
    assert [r.outcome for r in applied] == [Outcome.OK]
    assert await hand_edited.apply() == ()  # nothing differs: nothing done, nothing journaled
    assert len([r for r in await backend.journal.records("web") if r.action == "apply"]) == 1


async def test_an_apply_that_would_starve_traffic_is_refused(backend, world, hand_edited, health):
    generations = (await backend.snapshot()).generations
    groups = [g.extra["target_group"] for g in generations]
    by_hand(world, backend, {groups[0]: 0, groups[1]: 100})  # g1 went bad; g2 took it all
    health.states[generations[0].instances[0].id] = "unhealthy"
    with pytest.raises(Refused, match="would leave no healthy generation carrying traffic"):
        await hand_edited.apply()
    assert on_listener(world) == [0, 100]
    applied = [r for r in await backend.journal.records("web") if r.action == "apply"]
    assert [r.outcome for r in applied] == [Outcome.REFUSED]


@pytest.mark.slow
def test_status_names_molt_apply_and_apply_sets_it_back(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    launched = molt(tmp_path, "launch", "web", "--version", "v1", "--image", world.image,
                    "--count", "1", "--wait", config=config)
    assert launched.returncode == 0, launched.stderr
    assert molt(tmp_path, "promote", "web", "g1", config=config).returncode == 0
    elbv2 = world.client("elbv2")
    listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
    forward = listener["DefaultActions"][0]["ForwardConfig"]
    forward["TargetGroups"][0]["Weight"] = 0
    elbv2.modify_listener(ListenerArn=world.listener_arn,
                          DefaultActions=[{"Type": "forward", "ForwardConfig": forward}])
    looked = molt(tmp_path, "status", "web", config=config)
    assert looked.returncode == 0, looked.stderr
    assert "! the listener sends g1 0%, Molt set 100%; `molt apply web` sets it back" in (
        looked.stdout
    )
    assert on_listener(world) == [0]
    applied = molt(tmp_path, "apply", "web", config=config)
    assert applied.returncode == 0, applied.stderr
    assert on_listener(world) == [100]
    assert "nothing to apply" in molt(tmp_path, "apply", "web", config=config).stdout
