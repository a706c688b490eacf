"""Molt's terminal UI: the App, and ``run_app`` behind plain ``molt``."""

from __future__ import annotations

import argparse
import gc
import os
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from backends.base import Backend
from backends.config import FleetConfig, load_config
from backends.errors import BackendError
from backends.model import utcnow
from backends.registry import open_backend
from tui.commands import FleetCommands
from tui.screens.fleet import FleetScreen
from tui.screens.fleet_workers import describe

Clock = Callable[[], datetime]


class MoltApp(App[None]):
    """Opens one fleet at a time (``f`` or the palette switches); holds no state that
    matters — truth is re-read from the backend, so killing Molt loses nothing.

    Args:
        fleets: the fleets Molt knows (molt.toml, or the built-in demo).
        fleet: the one to open first (default: the first).
        state_dir: where the local backend keeps its state.
        read_only: refuse every mutating action.
        opener: ``(fleet, state_dir) → Backend`` (tests pass a synthetic backend).
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
        opener: Callable[[FleetConfig, Path], Backend] = open_backend,
        clock: Clock = utcnow,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.fleets = {f.name: f for f in fleets}
        self.first_fleet = fleet or next(iter(self.fleets))
        self.state_dir = state_dir
        self.read_only = read_only
        self.opener = opener
        self.clock = clock
        self.tz = tz
        self.goodbye = ""

    def on_mount(self) -> None:
        self.action_open_fleet(self.first_fleet)

    def action_open_fleet(self, name: str) -> None:
        """Open ``name`` in place of the fleet shown now (which keeps running)."""
        try:
            backend = self.opener(self.fleets[name], self.state_dir)
        except BackendError as error:
            title, message = describe(error)
            self.notify(message, title=title, severity="error")
            return
        screen = FleetScreen(
            self.fleets[name],
            backend,
            state_dir=self.state_dir,
            read_only=self.read_only,
            clock=self.clock,
            tz=self.tz,
            fleet_count=len(self.fleets),
        )
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if isinstance(self.screen, FleetScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    @property
    def fleet_screen(self) -> FleetScreen | None:
        screens = [s for s in self.screen_stack if isinstance(s, FleetScreen)]
        return screens[-1] if screens else None

    async def action_quit(self) -> None:
        if self.fleet_screen is not None:
            self.goodbye = self.fleet_screen.goodbye()
        self.exit()

    def _fatal_error(self) -> None:
        """A bug in Molt itself: one line on the way out, the traceback only on request."""
        if os.environ.get("MOLT_DEBUG") or self._exception is None:
            super()._fatal_error()
            return
        self.bell()
        title, message = describe(self._exception)
        self._exit_renderables.append(
            f"molt: {title.lower()}: {message} (set MOLT_DEBUG=1 for a traceback)"
        )
        self._close_messages_no_wait()


def tune_gc() -> None:
    """Keep garbage collection from freezing the screen.

    A busy fleet churns through events and reads; with Python's default thresholds the
    collector then walks the whole long-lived object graph (modules, the DOM, caches)
    several times a second, pausing the UI for 30–100 ms each time. Freeze what exists
    at start (it lives as long as the process) and collect the young generation less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


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
