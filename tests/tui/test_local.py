"""The fleet view on the real local backend: a real agent, real processes, real checks."""

from __future__ import annotations

from textual.widgets import Input

from tests.support.local import local_fleet, state_dir_env
from tests.tui.conftest import ready, until
from tui.app import MoltApp
from tui.widgets.event_log import EventLog
from tui.widgets.generations import GenerationStrip


async def test_launch_from_the_modal_brings_instances_up_healthy_on_screen():
    with state_dir_env() as state_dir:
        fleet = local_fleet("web", count=2, drain_timeout=1.0)
        app = MoltApp([fleet], state_dir=state_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await ready(pilot)
            assert "no generations yet" in str(screen.query_one(GenerationStrip).placeholder)
            await pilot.press("n")
            await pilot.press("v", "1")
            assert app.screen.query_one("#count", Input).value == "2"  # the fleet's count
            await pilot.press("enter")
            await until(pilot, lambda: screen.selected == "g1", timeout=15)
            column = screen.query_one(GenerationStrip).column("g1")
            await until(pilot, lambda: column.generation.healthy_count() == 2, timeout=20)
            assert "2/2 healthy" in column.render_line(3).text
            log = screen.query_one(EventLog)
            messages = [e.text() for e in log.visible_events]
            assert any("pending → healthy" in m for m in messages)
            assert any(m.endswith("launch v1 ×2 → g1") for m in messages)
