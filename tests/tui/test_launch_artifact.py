"""The launch modal asks for the artifact only where the fleet has no default (an AWS
fleet without an `image` in molt.toml), and passes what is typed to the launch."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from backends.config.fleet_config import FleetConfig
from tests.tui.conftest import ready, until
from tui.app import MoltApp
from tui.modals.launch import LaunchModal


def aws_app(backend, clock) -> MoltApp:
    fleet = FleetConfig(name="web", backend="aws", settings=SimpleNamespace(image=None, count=2))
    return MoltApp(
        [fleet],
        state_dir=Path("/nonexistent-molt-state"),
        opener=lambda _fleet, _dir, *, read_only: backend.open_as(read_only=read_only),
        clock=clock,
    )


async def test_an_aws_fleet_without_a_default_image_needs_one_typed(backend, clock):
    app = aws_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("n", "v", "4", "enter")
        assert isinstance(app.screen, LaunchModal)
        assert "Image (AMI) is required" in str(app.screen.query_one("#problem").render())
        await pilot.press("tab", "tab", "tab", *"ami-0123", "enter")
        await until(pilot, lambda: not isinstance(app.screen, LaunchModal))
        await until(pilot, lambda: any(r.action == "launch" for r in backend.memory.since_seeded()))
        (launch,) = [r for r in backend.memory.since_seeded() if r.action == "launch"]
        assert launch.args["artifact"] == "ami-0123" and launch.args["version"] == "v4"
