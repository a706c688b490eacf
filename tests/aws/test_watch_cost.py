"""What one watching TUI costs on AWS: at most 1 + G + 1 calls per poll (G generations).

Each poll reads the Auto Scaling groups once (1) and each generation's target health
once (G); the looks at the locks and the journal that show a rollout or an interrupted
action fit in the last one: both locks in one ``DescribeTags``, and the journal's tail
read only when the locks or the fleet moved, or every few looks. The real app and the
real driver against moto over HTTP; every HTTP request botocore sends is counted at its
``before-send`` hook (retries included), for 30 s at a 2 s poll with 3 generations."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.aws.driver import AwsBackend
from backends.core.model import GenerationSpec
from tests.aws.faults import Faults, install
from tests.aws.support import aws_fleet
from tests.tui.conftest import ready, until
from tui.app import MoltApp

pytestmark = pytest.mark.slow
POLL = 2.0
WATCH = 30.0
GENERATIONS = 3
#: calls made once, not per poll: the caller's identity (STS), the new instances'
#: addresses (EC2), the traffic numbers (CloudWatch, once a minute), the journal's
#: first whole read
ONCE = 4


async def test_a_watching_tui_stays_within_one_plus_g_plus_one_calls_per_poll(
    world, health, tmp_path
):
    fleet = aws_fleet(world, poll_interval=POLL)
    launcher = AwsBackend(fleet, tmp_path)
    launcher.target_health = health
    for version in ("v1", "v2", "v3"):
        await launcher.launch(GenerationSpec(version=version, count=1, artifact=world.image))
    await launcher.close()
    counted: list[Faults] = []

    def opener(config, state_dir, *, read_only):
        driver = AwsBackend(config, state_dir, read_only=read_only)
        driver.target_health = health
        counted.append(install(driver))  # every request from the app's first
        return driver

    app = MoltApp([fleet], state_dir=tmp_path, opener=opener)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await until(
            pilot, lambda: screen.snapshot is not None and len(screen.snapshot.generations) == 3
        )
        started = time.monotonic()
        await asyncio.sleep(WATCH)
        watched = time.monotonic() - started
    (sent,) = [c.sent for c in counted]
    print("CALLS", dict(sent))
    polls = sent["DescribeAutoScalingGroups"]
    # at least half its pace (a loaded machine slows the polls, the budget is per poll)
    assert polls >= watched / POLL / 2, f"the TUI did not watch: {dict(sent)}"
    assert sent["DescribeTargetHealth"] <= GENERATIONS * polls
    budget = (1 + GENERATIONS + 1) * polls + ONCE
    total = sum(sent.values())
    assert total <= budget, f"{total} calls in {polls} polls (budget {budget}): {dict(sent)}"
    # the extra one per poll is not spent in full: the locks and the journal cost a look
    # every third poll, the journal's tail only when something moved or now and then
    assert sent["DescribeTags"] + sent["GetLogEvents"] <= polls * 0.6 + 2, dict(sent)
