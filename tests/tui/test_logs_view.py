"""``l``: what an instance printed, followed live, shown literally; ``escape`` goes back."""

from __future__ import annotations

from textual.widgets import Log, Static

from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tui.screens.fleet import FleetScreen
from tui.screens.inspect import InspectScreen
from tui.screens.logs import LogsScreen


async def open_logs(pilot, *keys: str) -> LogsScreen:
    await ready(pilot)
    await pilot.press(*keys)
    await until(pilot, lambda: isinstance(pilot.app.screen, LogsScreen))
    screen = pilot.app.screen
    await until(pilot, lambda: screen.state != "reading")
    return screen


async def test_logs_show_what_the_instance_printed_and_follow_new_lines(backend, clock):
    backend.print_line("g3-1", "starting v3 on :8000")
    backend.print_line("g3-1", "cache warm: 12 keys")
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "l")  # g3, the newest, is selected: its first instance
        log = screen.query_one(Log)
        await until(pilot, lambda: "cache warm: 12 keys" in text_of(log))
        assert text_of(log).index("starting v3") < text_of(log).index("cache warm")
        assert screen.state == "following"

        backend.print_line("g3-1", "GET /healthz → 500")
        await until(pilot, lambda: "GET /healthz → 500" in text_of(log))
        title = text_of(screen.query_one("#logs-title", Static))
        assert "g3-1 · 10.0.3.1:8000 · g3 v3" in title and "3 lines" in title

        await pilot.press("escape")
        assert isinstance(pilot.app.screen, FleetScreen)


async def test_log_lines_are_shown_literally(backend, clock):
    backend.print_line("g3-1", "\x1b[31mred\x1b[0m [bold]not markup[/bold]\x07")
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "l")
        log = screen.query_one(Log)
        expected = "\\x1b[31mred\\x1b[0m [bold]not markup[/bold]\\x07"
        await until(pilot, lambda: expected in text_of(log))


async def test_logs_of_the_instance_selected_on_the_inspect_screen(backend, clock):
    backend.print_line("g2-1", "g2-1 says hello")
    backend.print_line("g2-2", "g2-2 says hello")
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("left", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, InspectScreen))
        await pilot.press("down", "l")  # the second row: g2-2
        await until(pilot, lambda: isinstance(pilot.app.screen, LogsScreen))
        log = pilot.app.screen.query_one(Log)
        await until(pilot, lambda: "g2-2 says hello" in text_of(log))
        assert "g2-1" not in text_of(log)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, InspectScreen)


async def test_logs_that_cannot_be_read_say_why_in_one_line(backend, clock):
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "l")  # g3-1 never printed: the backend has no log
        assert screen.state == "failed"
        title = text_of(screen.query_one("#logs-title", Static))
        assert "⚠ Not found: fleet web has no instance g3-1" in title
        assert text_of(screen.query_one(Log)).strip() == ""
        assert "Traceback" not in title


async def test_logs_stay_available_in_read_only_mode(backend, clock):
    backend.print_line("g3-1", "read-only hello")
    async with make_app(backend, clock, read_only=True).run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "l")
        await until(pilot, lambda: "read-only hello" in text_of(screen.query_one(Log)))


async def test_a_long_log_opens_at_its_newest_lines(backend, clock):
    for n in range(3000):
        backend.print_line("g3-1", f"line {n}")
    async with make_app(backend, clock).run_test(size=SIZE) as pilot:
        screen = await open_logs(pilot, "l")
        log = screen.query_one(Log)
        await until(pilot, lambda: "line 2999" in text_of(log))
        assert log.line_count == 1000  # the tail only; `molt logs --lines N` reads more
        assert "line 1999" not in text_of(log)  # one screenful is drawn, at the end
        await pilot.press("home")
        await until(pilot, lambda: "line 2000" in text_of(log))
