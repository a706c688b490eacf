"""Molt's terminal UI: the App, and ``run_app`` behind plain ``molt``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from backends.engine.estate import Estate
from backends.engine.session import FleetSession, Opener
from backends.engine.updates import describe
from tui import textual_private
from tui.commands import FleetCommands
from tui.formatting import goodbye, literal
from tui.modals.quit import QuitChoice, QuitModal
from tui.screens.changes import ChangesScreen
from tui.screens.estate import EstateScreen
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

    With several fleets the first screen is the estate (every fleet, one row each),
    read by the App's :class:`Estate` through these same sessions — one per fleet,
    whoever reads it; ``escape`` on a fleet view comes back to it.

    Args:
        fleets: the fleets Molt knows (molt.toml, or the built-in demo).
        fleet: the one to open first (default: the estate when there are several, else
            the only one).
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
        self.estate = Estate(
            list(self.fleets.values()),
            state_dir,
            read_only=read_only,
            session_for=self.session_for,
            clock=clock,
        )
        self.estate_first = fleet is None and len(self.fleets) > 1
        self.estate_screen: EstateScreen | None = None
        self.goodbye = ""
        self._shown = ""  # the fleet on screen ("" on the estate)

    def on_mount(self) -> None:
        if self.estate_first:
            self.action_estate()
        else:
            self.action_open_fleet(self.first_fleet)

    def session_for(self, fleet: FleetConfig) -> FleetSession:
        """The App's one session on ``fleet``, opened (and followed) the first time it
        is asked for: the estate reads through it, the fleet view renders it."""
        name = fleet.name
        if name not in self.sessions:
            self.sessions[name] = FleetSession(
                self.fleets[name], self.state_dir, read_only=self.read_only, opener=self.opener
            )
            self.bridge.follow(self.sessions[name])
        return self.sessions[name]

    def action_open_fleet(self, name: str) -> None:
        """Show ``name`` in place of the fleet shown now (whose session goes on)."""
        if name not in self.fleets:  # a journal's record of a fleet molt.toml no longer has
            self.notify(f"no fleet {literal(name)} in molt.toml", severity="warning", markup=False)
            return
        try:
            session = self.session_for(self.fleets[name])
        except BackendError as error:
            title, message = describe(error)
            self.notify(literal(message), title=title, severity="error", markup=False)
            return
        if name not in self.fleet_screens:
            fleets = list(self.fleets.values())
            screen = FleetScreen(session, clock=self.clock, tz=self.tz, fleets=fleets)
            self.fleet_screens[name] = screen
            self.install_screen(screen, _screen_name(name))
        self._to_base()
        self._shown = name
        if isinstance(self.screen, FleetScreen):
            self.switch_screen(_screen_name(name))
        else:
            self.push_screen(_screen_name(name))
        self.bridge.resume(session)  # what came while another fleet showed

    def open_fleet_at(self, name: str, generation: str | None) -> None:
        """Open ``name`` with ``generation`` selected (the changes view's ``enter``)."""
        self.action_open_fleet(name)
        screen = self.fleet_screens.get(name) if self._shown == name else None
        if screen is not None and generation:
            screen.show_generation(generation)

    def action_estate(self) -> None:
        """Every fleet at once: back under the fleet view, or in its place (``--fleet``)."""
        if self.estate_screen is None:
            self.estate_screen = EstateScreen(
                self.estate,
                read_only=self.read_only,
                clock=self.clock,
                tz=self.tz,
                preparing=lambda name: s.preparing if (s := self.sessions.get(name)) else "",
            )
            self.install_screen(self.estate_screen, "estate")
            self._prepare_demo()
        self._to_base()
        if self._shown:
            self.estate_screen.select(self._shown)  # the fleet the operator comes back from
        self._shown = ""
        if self.screen is self.estate_screen:
            return
        if isinstance(self.screen, FleetScreen) and self.estate_screen in self.screen_stack:
            self.pop_screen()
        elif isinstance(self.screen, FleetScreen):
            self.switch_screen("estate")
        else:
            self.push_screen("estate")

    def _prepare_demo(self) -> None:
        """The built-in demo fleets launch their first generation on first use, as the
        fleet view starts them: from the estate, all at once (their sessions follow
        them from then on; the estate takes what they see)."""
        for fleet in self.fleets.values():
            if fleet.bootstrap_version is not None:
                with contextlib.suppress(BackendError):  # the estate shows why
                    self.session_for(fleet).start()

    def action_changes(self) -> None:
        """What changed across the estate, over the screen shown now."""
        sessions: dict[str, FleetSession | str] = {}
        for name, fleet in self.fleets.items():
            try:
                sessions[name] = self.session_for(fleet)
            except BackendError as error:
                title, message = describe(error)
                sessions[name] = f"{title}: {message}"
        self.push_screen(ChangesScreen(sessions, clock=self.clock, tz=self.tz))

    def _to_base(self) -> None:
        """Close what was opened over the fleet view or the estate (inspect, timeline,
        changes): the next screen takes the place of what is under them."""
        while len(self.screen_stack) > 1 and not isinstance(
            self.screen, FleetScreen | EstateScreen
        ):
            self.pop_screen()

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
        hints = [s.driver.quit_hint for s in self.sessions.values()]
        if shown is not None:
            self.goodbye = goodbye(
                shown.name,
                shown.snapshot,
                shown.driver.entry_label,
                hints,
                cut_short if interrupted else [],
            )
        elif self.sessions:  # from the estate: every fleet, and what was cut short anywhere
            every = "both" if len(self.fleets) == 2 else f"all {len(self.fleets)}"
            first = f"Molt closed; {every} fleets keep running."
            first += "".join(f" {hint}" for hint in dict.fromkeys(h for h in hints if h))
            cut = goodbye("", None, str, (), cut_short if interrupted else []).split("\n")[1:]
            self.goodbye = "\n".join([first, *cut])  # what was cut short, worded as always
        self.exit()

    async def on_unmount(self) -> None:
        """Every session closed on the way out; an operation still in flight (quit now,
        or Molt ending otherwise) is interrupted and journaled so — never left dangling."""
        self.bridge.stop()
        await self.estate.close()  # its reads in flight; the sessions are closed below
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
