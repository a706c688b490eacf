"""A refresh (one snapshot, one watch poll) costs one DescribeAutoScalingGroups plus one
DescribeTargetHealth per generation, however many instances there are — counted at
botocore's ``before-send`` hook, so every HTTP request (retries included) counts."""

from __future__ import annotations

import time

from backends.aws.driver import AwsBackend
from backends.core.model import GenerationSpec
from backends.engine.session import FleetSession
from tests.aws.faults import install
from tests.aws.support import ScriptedTargetHealth, aws_fleet


async def launch_three(backend, world, count: int) -> None:
    for version in ("v1", "v2", "v3"):
        await backend.launch(GenerationSpec(version=version, count=count, artifact=world.image))


async def test_three_generations_of_twenty_instances_cost_four_calls(backend, world):
    requests = install(backend)
    await launch_three(backend, world, count=20)
    first = dict(requests.sent)
    await backend.snapshot()  # also learns the 60 private IPs, once
    learned = {k: v - first.get(k, 0) for k, v in requests.sent.items()}
    assert learned.get("DescribeInstances") == 1
    requests.sent.clear()
    snapshot = await backend.snapshot()
    assert sum(len(g.instances) for g in snapshot.generations) == 60
    assert all(i.address for g in snapshot.generations for i in g.instances)
    assert dict(requests.sent) == {"DescribeAutoScalingGroups": 1, "DescribeTargetHealth": 3}
    assert sum(requests.sent.values()) <= 4


async def test_the_cost_does_not_grow_with_instances(backend, world):
    requests = install(backend)
    await launch_three(backend, world, count=1)
    await backend.snapshot()
    requests.sent.clear()
    await backend.snapshot()
    assert sum(requests.sent.values()) == 1 + 3


async def test_waiting_for_a_launch_reads_at_the_fleets_poll_interval(world, tmp_path):
    """``molt launch --wait``: 1 + G calls per ``poll_interval`` (G generations), plus
    one DescribeInstances when the new instances first appear and one GetMetricData
    per minute (CloudWatch's own period) for the traffic numbers."""
    backend = AwsBackend(aws_fleet(world, poll_interval=1.0), tmp_path)
    backend.target_health = ScriptedTargetHealth(pending_for=3.5)  # the ALB takes a while
    session = FleetSession.around(backend)
    await session.ops.launch(GenerationSpec(version="v1", count=2, artifact=world.image))
    requests = install(backend)
    started = time.monotonic()
    await session.wait_settled("g1", timeout=60)
    elapsed = time.monotonic() - started
    interval = backend.poll_interval
    assert elapsed >= 2 * interval  # it really waited, several intervals
    reads = requests.sent["DescribeAutoScalingGroups"]
    assert reads <= elapsed / interval + 2
    assert requests.sent["DescribeTargetHealth"] == reads  # G = 1
    assert requests.sent["DescribeInstances"] <= 1
    assert requests.sent["GetMetricData"] <= 1  # traffic numbers: once a minute at most
    assert set(requests.sent) <= {
        "DescribeAutoScalingGroups",
        "DescribeTargetHealth",
        "DescribeInstances",
        "GetMetricData",
    }
    await backend.close()
