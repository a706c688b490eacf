"""The TUI on the real local backend shows a hand edit as a taint within seconds — found
by the agent's watch on the trees, not by the TUI's own ``verify_interval`` (600 s)."""

from __future__ import annotations

from tests.support.local import local_fleet, state_dir_env
from tests.tui.conftest import ready, until
from tui.app import MoltApp
from tui.widgets.generations import GenerationStrip


async def test_a_hand_edit_shows_tainted_in_the_tui_within_seconds():
    with state_dir_env() as state_dir:
        fleet = local_fleet("web", count=1, drain_timeout=1.0)
        app = MoltApp([fleet], state_dir=state_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await ready(pilot)
            await pilot.press("n", "v", "1", "enter")
            await until(pilot, lambda: screen.selected == "g1", timeout=15)
            strip = screen.query_one(GenerationStrip)
            app_py = state_dir / "fleets" / "web" / "g1" / "tree" / "app.py"
            await until(pilot, lambda: (app_py.parent.parent / "manifest.json").exists())
            app_py.chmod(0o644)
            app_py.write_text(app_py.read_text() + "\nDEBUG = True\n")
            # how soon the agent notices is measured by tests/e2e/test_drift_watch.py from
            # its journal; here: the TUI shows it without waiting for its own verify
            await until(pilot, lambda: strip.column("g1").generation.tainted, timeout=20)
            assert "✗ tainted: 1 drift finding" in "".join(
                strip.column("g1").render_line(y).text for y in range(8)
            )
