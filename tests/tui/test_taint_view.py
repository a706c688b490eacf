"""Tainted generations (drift found by verify) and those due a rebuild, as the operator
sees them: a line in the fleet view, the findings on the inspect screen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from textual.geometry import Region
from textual.widgets import Static

from backends.config.fleet_config import FleetConfig
from backends.core.model import DriftReport, FileChange, FileDrift
from tests.support.synthetic import SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tests.tui.fleets import three_generations
from tui.app import MoltApp
from tui.screens.inspect import InspectScreen
from tui.widgets.attention import AttentionBar


class Drifting(SyntheticBackend):
    """A fleet whose g2 was edited by hand on two of its hosts."""

    async def verify(self, generation: str) -> DriftReport:
        report = await super().verify(generation)
        if generation != "g2":
            return report
        drift = (
            FileDrift("10.0.2.1", "app.py", FileChange.CHANGED),
            FileDrift("10.0.2.2", "hotfix.py", FileChange.ADDED),
        )
        return DriftReport(report.fleet, generation, report.checked, drift)


def words(widget) -> list[str]:
    """Each line a widget shows, border included, with its runs of spaces made one."""
    width, height = widget.outer_size
    lines = [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]
    return [" ".join(line.replace("│", " ").split()) for line in lines]


def drifting(clock) -> Drifting:
    backend = Drifting(clock=clock, auto_health=0.01)
    three_generations(backend)
    return backend


async def verified(pilot) -> None:
    """Ready, then the periodic immutability check runs once (as it would every
    ``verify_interval``)."""
    screen = await ready(pilot)
    await screen.session.verify()
    await until(pilot, lambda: screen.snapshot.generation("g2").tainted)


async def test_a_tainted_generation_is_marked_in_the_fleet_view(clock):
    backend = drifting(clock)
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        await verified(pilot)
        bar = pilot.app.screen.query_one(AttentionBar)
        await until(pilot, lambda: bar.display)
        assert text_of(bar).strip() == (
            "✗ g2 tainted: 2 drift findings (10.0.2.1: changed app.py, +1 more) — retire it; "
            "launch a new generation"
        )
        assert [r.action for r in backend.memory.since_seeded()] == ["verify"]  # journaled


async def test_the_inspect_screen_lists_a_tainted_generations_drift_findings(clock):
    backend = drifting(clock)
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        await verified(pilot)
        await pilot.press("left", "enter")  # g2
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectScreen))
        inspect = pilot.app.screen
        assert "✗ TAINTED" in text_of(inspect.query_one("#inspect-title", Static))
        spec = words(inspect.query_one("#spec", Static))
        assert "✗ drift tainted: retire it and launch a new generation" in spec
        assert "10.0.2.1: changed app.py" in spec and "10.0.2.2: added hotfix.py" in spec

        await pilot.press("escape", "left", "enter")  # g1 is clean
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectScreen))
        assert "TAINTED" not in text_of(pilot.app.screen.query_one("#inspect-title", Static))
        assert "drift" not in text_of(pilot.app.screen.query_one("#spec", Static))


async def test_a_generation_older_than_max_age_is_due_a_rebuild(clock):
    backend = SyntheticBackend(clock=clock, auto_health=0.01)
    backend.add_generation("v1", 2, weight=100, age=timedelta(days=3000))
    backend.add_generation("v2", 2)
    fleet = FleetConfig(name="web", backend="synthetic", settings=None, max_age=timedelta(days=30))
    app = MoltApp(
        [fleet],
        state_dir=Path("/nonexistent-molt-state"),
        opener=lambda _fleet, _dir, *, read_only: backend.open_as(read_only=read_only),
        clock=clock,
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        bar = pilot.app.screen.query_one(AttentionBar)
        await until(pilot, lambda: "due a rebuild" in text_of(bar))
        assert "⟳ g1 launched 8 years ago (max age a month): due a rebuild" in text_of(bar)
        assert "g2" not in text_of(bar)
        await pilot.press("left", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectScreen))
        assert "⟳ REBUILD DUE" in text_of(pilot.app.screen.query_one("#inspect-title", Static))
        spec = words(pilot.app.screen.query_one("#spec", Static))
        assert "⟳ rebuild launched 8 years ago (max age a month): due a rebuild" in spec
