"""Molt's terminal UI: the App, and ``run_app`` behind plain ``molt``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from backends.config.drivers import open_backend
from backends.config.fleet_config import FleetConfig
from backends.config.loading import load_config
from backends.core.errors import BackendError
from backends.core.model import utcnow
from backends.engine.session import FleetSession, Opener
from backends.engine.updates import describe
from tui import textual_private
from tui.commands import FleetCommands
from tui.formatting import goodbye
from tui.modals.quit import QuitChoice, QuitModal
from tui.screens.fleet import FleetScreen
from tui.session_bridge import SessionBridge

Clock = Callable[[], datetime]


class MoltApp(App[None]):
    """Holds one :class:`FleetSession` per fleet opened (``f`` or the palette switches
    between them) and one fleet view per session. A session, not a screen, owns its
    reads and its operations in flight: switching fleet or screen never cancels one.
    The App is the one listener of every session: its :class:`SessionBridge` posts
    each update to the screens that render that session, as :mod:`tui.messages`.
    Nothing here matters beyond the process: truth is re-read from the backend.

    Args:
        fleets: the fleets Molt knows (molt.toml, or the built-in demo).
        fleet: the one to open first (default: the first).
        state_dir: where the local backend keeps its state.
        read_only: every session read-only: the backends write nothing at all.
        opener: ``(fleet, state_dir, *, read_only) → Backend`` (tests pass a synthetic one).
        clock: the current time, aware UTC (snapshots freeze it).
        tz: the time zone event times are shown in (default: the local one).
    """

    CSS_PATH = "app.tcss"
    TITLE = "Molt"
    COMMANDS = App.COMMANDS | {FleetCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "quit", show=False, priority=True, id="app.quit"),
    ]

    def __init__(
        self,
        fleets: Sequence[FleetConfig],
        *,
        fleet: str | None = None,
        state_dir: Path,
        read_only: bool = False,
        opener: Opener = open_backend,
        clock: Clock = utcnow,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        textual_private.fix_timer()  # frames a key press is due in, not one interval later
        textual_private.one_line_fatal_errors(self, _fatal_line)
        self.fleets = {f.name: f for f in fleets}
        self.first_fleet = fleet or next(iter(self.fleets))
        self.state_dir = state_dir
        self.read_only = read_only
        self.opener = opener
        self.clock = clock
        self.tz = tz
        self.sessions: dict[str, FleetSession] = {}
        self.fleet_screens: dict[str, FleetScreen] = {}
        self.bridge = SessionBridge(self, lambda: list(self.fleet_screens.values()))
        self.goodbye = ""
        self._shown = ""  # the fleet on screen

    def on_mount(self) -> None:
        self.action_open_fleet(self.first_fleet)

    def action_open_fleet(self, name: str) -> None:
        """Show ``name`` in place of the fleet shown now (whose session goes on)."""
        if name not in self.sessions:
            try:
                self.sessions[name] = FleetSession(
                    self.fleets[name], self.state_dir, read_only=self.read_only, opener=self.opener
                )
            except BackendError as error:
                title, message = describe(error)
                self.notify(message, title=title, severity="error", markup=False)
                return
            self.bridge.follow(self.sessions[name])
            screen = FleetScreen(
                self.sessions[name], clock=self.clock, tz=self.tz, fleets=list(self.fleets.values())
            )
            self.fleet_screens[name] = screen
            self.install_screen(screen, _screen_name(name))
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self._shown = name
        if isinstance(self.screen, FleetScreen):
            self.switch_screen(_screen_name(name))
        else:
            self.push_screen(_screen_name(name))
        self.bridge.resume(self.sessions[name])  # what came while another fleet showed

    def in_flight(self) -> list[FleetSession]:
        """The sessions with an operation in flight."""
        return [s for s in self.sessions.values() if s.in_flight]

    async def action_quit(self) -> None:
        """Quit; with operations in flight, ask first (wait, quit now, or stay)."""
        if isinstance(self.screen, QuitModal):
            return  # already asking
        busy = self.in_flight()
        if not busy:
            self._leave(interrupted=False)
            return
        self.push_screen(QuitModal(busy), self._quit_chosen)

    def _quit_chosen(self, choice: QuitChoice | None) -> None:
        if choice is not None:
            self._leave(interrupted=choice == "now")

    def _leave(self, *, interrupted: bool) -> None:
        cut_short = [
            f"{session.name}: {operation.doing}"
            for session in self.in_flight()
            for operation in session.in_flight
        ]
        shown = self.sessions.get(self._shown)
        if shown is not None:
            hints = [s.driver.quit_hint for s in self.sessions.values()]
            self.goodbye = goodbye(
                shown.name,
                shown.snapshot,
                shown.driver.entry_label,
                hints,
                cut_short if interrupted else [],
            )
        self.exit()

    async def on_unmount(self) -> None:
        """Every session closed on the way out; an operation still in flight (quit now,
        or Molt ending otherwise) is interrupted and journaled so — never left dangling."""
        self.bridge.stop()
        sessions, self.sessions = list(self.sessions.values()), {}
        await asyncio.gather(*(s.close(interrupt=True) for s in sessions), return_exceptions=True)


def _fatal_line(error: BaseException) -> str | None:
    """A bug in Molt itself: one line on the way out, the traceback only on request."""
    if os.environ.get("MOLT_DEBUG"):
        return None
    title, message = describe(error)
    return f"molt: {title.lower()}: {message} (set MOLT_DEBUG=1 for a traceback)"


def _screen_name(fleet: str) -> str:
    return f"fleet:{fleet}"


def tune_gc() -> None:
    """Keep garbage collection from freezing the screen.

    A busy fleet churns through events and reads; with Python's default thresholds the
    collector then walks the whole long-lived object graph (modules, the DOM, caches)
    several times a second, pausing the UI for 30–100 ms each time. Freeze what exists
    at start (it lives as long as the process) and collect the middle generation rarely.

    A young collection walks every object allocated since the last one, so its pause
    grows with the first threshold: at 20,000 it stopped the screen for 20–50 ms about
    once a second under load — the long tail of keystroke → paint, and a frame that
    overruns Textual's 60 Hz tick pushes the next one a whole tick further. At 1,000
    each pause is under a few milliseconds for the same total work; the middle
    generation still runs once per 400,000 objects, as before.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(1_000, 400, 20)


def run_app(args: argparse.Namespace) -> int:
    """``molt [--config PATH] [--fleet NAME] [--read-only]``: the TUI."""
    config = load_config(args.config)
    config.fleet(args.fleet)  # an unknown --fleet is a usage error before the screen opens
    tune_gc()
    app = MoltApp(
        list(config.fleets.values()),
        fleet=args.fleet,
        state_dir=config.state_dir,
        read_only=bool(args.read_only),
    )
    app.run()
    if app.goodbye:
        print(app.goodbye)
    return app.return_code or 0
