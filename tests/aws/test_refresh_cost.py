"""A refresh (one snapshot, one watch poll) costs one DescribeAutoScalingGroups plus one
DescribeTargetHealth per generation, however many instances there are — counted at
botocore's ``before-send`` hook, so every HTTP request (retries included) counts."""

from __future__ import annotations

from backends.model import GenerationSpec
from tests.aws.faults import install


async def launch_three(backend, world, count: int) -> None:
    for version in ("v1", "v2", "v3"):
        await backend.launch(
            "web", GenerationSpec(version=version, count=count, artifact=world.image)
        )


async def test_three_generations_of_twenty_instances_cost_four_calls(backend, world):
    requests = install(backend)
    await launch_three(backend, world, count=20)
    first = dict(requests.sent)
    await backend.snapshot("web")  # also learns the 60 private IPs, once
    learned = {k: v - first.get(k, 0) for k, v in requests.sent.items()}
    assert learned.get("DescribeInstances") == 1
    requests.sent.clear()
    snapshot = await backend.snapshot("web")
    assert sum(len(g.instances) for g in snapshot.generations) == 60
    assert all(i.address for g in snapshot.generations for i in g.instances)
    assert dict(requests.sent) == {"DescribeAutoScalingGroups": 1, "DescribeTargetHealth": 3}
    assert sum(requests.sent.values()) <= 4


async def test_the_cost_does_not_grow_with_instances(backend, world):
    requests = install(backend)
    await launch_three(backend, world, count=1)
    await backend.snapshot("web")
    requests.sent.clear()
    await backend.snapshot("web")
    assert sum(requests.sent.values()) == 1 + 3
