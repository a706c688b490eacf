"""The AWS backend's rig: moto's server over HTTP (an empty account per test), an ALB
and listener made by the test, and the scripted target health source so the suite sees
targets pending, then healthy — or unhealthy for the bad version."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from backends.aws.driver import AwsBackend
from tests.aws.support import (
    ScriptedTargetHealth,
    aws_fleet,
    fake_aws_env,
    make_world,
    moto_endpoint,
    reset_moto,
)
from tests.backends.harness import Harness


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    with fake_aws_env(), tempfile.TemporaryDirectory(prefix="molt-aws-") as state_dir:
        endpoint = await asyncio.to_thread(moto_endpoint)
        await asyncio.to_thread(reset_moto, endpoint)
        world = await asyncio.to_thread(make_world, endpoint)
        backend = AwsBackend(aws_fleet(world, "contract"), Path(state_dir))
        backend.target_health = ScriptedTargetHealth(pending_for=1.0)
        try:
            yield Harness(backend=backend, fleet="contract", artifact=world.image)
        finally:
            await backend.close()
