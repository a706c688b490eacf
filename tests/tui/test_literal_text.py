"""Text from outside — notes, versions, remote errors — shows as it was written: markup
stays brackets, an emoji stays an emoji, and a toast carrying either never crashes."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Input

from backends.core.errors import OperationFailed
from backends.core.journal import JournalRecord, Outcome
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, told, until
from tui.modals.launch import LaunchModal
from tui.screens.fleet import FleetScreen
from tui.widgets.event_log import EventLog
from tui.widgets.generations import GenerationStrip

NOTE = "[bold]not bold[/] 🐍 [/]"


def fleet_with_note(clock: ManualClock) -> SyntheticBackend:
    backend = SyntheticBackend(clock=clock)
    backend.add_generation("v1", 3, weight=100)
    backend.add_generation("v2", 3, note=NOTE)
    launch = {"version": "v2", "count": 3, "generation": "g2", "note": NOTE}
    record = JournalRecord(
        fleet="web", action="launch", operator="alice", args=launch, outcome=Outcome.OK, at=clock()
    )
    backend.memory.writes.append(record)
    backend.memory.seeded = 1
    return backend


def column_text(screen: FleetScreen, generation: str) -> str:
    column = screen.query_one(GenerationStrip).column(generation)
    assert column is not None, f"no column for {generation}"
    return text_of(column)


def toasts(app: App[None]) -> str:
    """The toasts as drawn (``run_test(notifications=True)``: tests hide them by default)."""
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


async def test_a_note_with_markup_and_an_emoji_shows_literally(clock: ManualClock) -> None:
    app = make_app(fleet_with_note(clock), clock)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert f"“{NOTE}”" in column_text(screen, "g2")
        log = screen.query_one(EventLog)
        await until(pilot, lambda: f"launch v2 ×3 → g2 “{NOTE}”" in text_of(log))


async def test_a_launch_with_brackets_in_version_and_note_says_so_literally(
    clock: ManualClock,
) -> None:
    backend = fleet_with_note(clock)
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await ready(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, LaunchModal)
        app.screen.query_one("#version", Input).value = "v3[/]"
        app.screen.query_one("#note", Input).value = "fix [red]everything[/red] ✨"
        await pilot.press("enter")
        await until(pilot, lambda: "Done: g3 launched: v3[/] × 3" in said)
        await until(pilot, lambda: screen.query_one(GenerationStrip).column("g3") is not None)
        column = column_text(screen, "g3")
        assert "g3  v3[/]" in column and "“fix [red]everything[/red] ✨”" in column
        await until(pilot, lambda: "g3 launched: v3[/] × 3" in toasts(app))  # drawn, literally


async def test_an_error_with_markup_like_text_is_shown_not_parsed(clock: ManualClock) -> None:
    backend = fleet_with_note(clock)
    backend.fail("set_weights", OperationFailed("HAProxy said [/] and [bold]no[/bold]"))
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("p", "y")  # promote g2: the driver fails, in brackets
        await until(
            pilot,
            lambda: any("HAProxy said [/] and [bold]no[/bold]" in n for n in said),
        )
        await until(pilot, lambda: "HAProxy said [/] and [bold]no[/bold]" in toasts(app))
        assert app.return_code is None  # still running
