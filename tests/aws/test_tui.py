"""The TUI runs unchanged on the AWS backend: the real app, the real driver, moto's
endpoints over HTTP — launch from the modal, promote by keys, AWS agrees."""

from __future__ import annotations

import pytest

from backends.aws.driver import AwsBackend
from tests.aws.support import aws_fleet
from tests.aws.test_cli import listener_weights
from tests.tui.conftest import ready, until
from tui.app import MoltApp
from tui.modals.confirm import ConfirmationModal
from tui.modals.launch import LaunchModal
from tui.widgets.header import FleetHeader

pytestmark = pytest.mark.slow


async def test_launch_and_promote_by_keys_on_aws(world, health, tmp_path):
    fleet = aws_fleet(world)
    drivers: list[AwsBackend] = []

    def opener(config, state_dir, *, read_only):
        driver = AwsBackend(config, state_dir, read_only=read_only)
        driver.target_health = health  # the explicit seam: pending first, then healthy
        drivers.append(driver)
        return driver

    app = MoltApp([fleet], state_dir=tmp_path, opener=opener)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        header = screen.query_one(FleetHeader)
        await until(pilot, lambda: header.operator.startswith("arn:aws:sts::"))  # STS identity
        assert (header.fleet, header.backend) == ("web", "aws")
        await pilot.press("n")
        assert isinstance(app.screen, LaunchModal)
        await pilot.press(*"v1", "enter")
        await until(pilot, lambda: screen.selected == "g1", timeout=30)
        await until(
            pilot,
            lambda: screen.snapshot.generation("g1").healthy_count() == 2,
            timeout=30,
        )
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.press("y")
        await until(pilot, lambda: screen.snapshot.generation("g1").weight == 100, timeout=30)
    assert list(listener_weights(world).values()) == [100]
    records = await drivers[0].journal.records("web")
    assert [(r.action, r.outcome.value) for r in records] == [("launch", "ok"), ("promote", "ok")]
