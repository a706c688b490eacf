"""The AWS backend's rig: moto's server over HTTP (an empty account per test), an ALB
and listener made by the test, and the scripted target health source so the suite sees
targets pending, then healthy — or unhealthy for the bad version."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from backends.aws import naming
from backends.aws.driver import AwsBackend
from tests.aws.support import (
    ScriptedTargetHealth,
    World,
    aws_fleet,
    fake_aws_env,
    make_world,
    moto_endpoint,
    reset_moto,
)
from tests.backends.harness import Harness


def fingerprint(world: World, fleet: str) -> object:
    """Groups (capacity, tags, target groups), target groups, the listener's default
    action, launch template versions and the journal's log events."""
    autoscaling, elbv2, ec2 = (world.client(s) for s in ("autoscaling", "elbv2", "ec2"))
    groups = [
        (
            g["AutoScalingGroupName"],
            g["DesiredCapacity"],
            sorted((t["Key"], t["Value"]) for t in g.get("Tags", [])),
            sorted(g.get("TargetGroupARNs", [])),
        )
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    ]
    target_groups = sorted(
        t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]
    )
    listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    versions = sorted((t["LaunchTemplateName"], t["LatestVersionNumber"]) for t in templates)
    logs = world.client("logs")
    try:
        events = logs.get_log_events(
            logGroupName=naming.log_group_name(fleet),
            logStreamName=naming.JOURNAL_STREAM,
            startFromHead=True,
        )["events"]
    except logs.exceptions.ResourceNotFoundException:
        events = []
    journal = [e["message"] for e in events]
    return sorted(groups), target_groups, listener["DefaultActions"], versions, journal


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    with fake_aws_env(), tempfile.TemporaryDirectory(prefix="molt-aws-") as state_dir:
        endpoint = await asyncio.to_thread(moto_endpoint)
        await asyncio.to_thread(reset_moto, endpoint)
        world = await asyncio.to_thread(make_world, endpoint)
        health = ScriptedTargetHealth(pending_for=1.0)
        opened: list[AwsBackend] = []

        def reopen(read_only: bool) -> AwsBackend:
            backend = AwsBackend(aws_fleet(world, "contract"), Path(state_dir), read_only=read_only)
            backend.target_health = health
            opened.append(backend)
            return backend

        async def look() -> object:
            return await asyncio.to_thread(fingerprint, world, "contract")

        async def drain(generation: str) -> None:
            record = await opened[0].resources.group(generation)
            await opened[0].resources.tag_group(record.name, {naming.LIFECYCLE: "draining"})

        backend = reopen(False)
        try:
            yield Harness(backend, "contract", reopen, look, drain, artifact=world.image)
        finally:
            for each in opened:
                await each.close()
