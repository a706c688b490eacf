"""``d``: what changed from the previous generation to the selected one."""

from __future__ import annotations

from textual.widgets import Label, Static

from tests.tui.conftest import SIZE, choose, make_app, ready, text_of, until
from tui.modals.diff import DiffModal
from tui.screens.fleet import FleetScreen
from tui.screens.inspect import InspectScreen


async def open_diff(pilot) -> DiffModal:
    await pilot.press("d")
    await until(pilot, lambda: isinstance(pilot.app.screen, DiffModal))
    modal = pilot.app.screen
    await until(pilot, lambda: modal.differences is not None or "no diff" in title_of(modal))
    return modal


def title_of(modal: DiffModal) -> str:
    return str(modal.query_one("#diff-title", Label).render())


def body_of(modal: DiffModal) -> str:
    return text_of(modal.query_one("#diff-body", Static))


async def test_the_diff_shows_a_file_added_since_the_previous_generation(backend, clock):
    backend.add_generation("v4-new", 2, note="feature flag")  # its artifact adds feature.py
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        await ready(pilot)  # g4, the newest, is selected
        modal = await open_diff(pilot)
        assert title_of(modal) == "g3 (v3) → g4 (v4-new) · 8 differences"
        rows = [" ".join(line.split()) for line in body_of(modal).splitlines()]
        assert "+ file feature.py added" in rows
        assert "~ file app.py changed" in rows  # its content changed with the version
        assert "~ version v3 → v4-new" in rows
        assert "~ note new cache layer → feature flag" in rows
        assert "~ count 4 → 2" in rows
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, FleetScreen)


async def test_the_oldest_generation_has_nothing_to_compare_with(backend, clock):
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        await ready(pilot)
        await choose(pilot, "g1")
        modal = await open_diff(pilot)
        body = body_of(modal)
        assert "g1 is the oldest generation: nothing before it to compare" in body


async def test_the_diff_from_the_inspect_screen_in_read_only_mode(backend, clock):
    async with make_app(backend, clock, read_only=True).run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("left", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectScreen))
        modal = await open_diff(pilot)
        assert title_of(modal).startswith("g1 (v1) → g2 (v2)")
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, InspectScreen)
