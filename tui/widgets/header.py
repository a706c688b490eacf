"""The top line: which fleet, on which backend, where its traffic enters, who acts, and
whether Molt may change anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from tui.formatting import literal

if TYPE_CHECKING:
    from backends.engine.session import FleetSession


class FleetHeader(Horizontal):
    """`` Molt  demo · local · proxy 127.0.0.1:8080 · operator alice      read-write``"""

    DEFAULT_CSS = """
    FleetHeader {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    FleetHeader > #where { width: 1fr; }
    FleetHeader > #mode { width: auto; padding: 0 1; }
    FleetHeader > #mode.read-only { background: $warning; color: $background; }
    """

    fleet: reactive[str] = reactive("")
    backend: reactive[str] = reactive("")
    entry: reactive[str] = reactive("")
    entry_word: reactive[str] = reactive("entry")
    """What the backend calls its traffic entry point (``proxy``, ``ALB``)."""
    operator: reactive[str] = reactive("")
    read_only: reactive[bool] = reactive(False)

    def show_session(self, session: FleetSession) -> None:
        """Everything the header says, from what ``session`` knows now."""
        snapshot = session.snapshot
        self.fleet, self.read_only = session.name, session.read_only
        self.entry_word = session.driver.entry_word
        self.backend = snapshot.backend if snapshot else session.fleet.backend
        self.entry = snapshot.entry if snapshot else ""
        self.operator = session.operator

    def compose(self) -> ComposeResult:
        yield Static(id="where")
        yield Static(id="mode")

    def on_mount(self) -> None:
        self._update()

    def watch_fleet(self) -> None:
        if self.is_mounted:
            self._update()

    watch_backend = watch_entry = watch_entry_word = watch_operator = watch_read_only = watch_fleet

    def _update(self) -> None:
        where = Text.assemble(
            (" Molt ", "bold reverse"),
            "  ",
            (literal(self.fleet), "bold"),
            " · ",
            literal(self.backend) or "…",
            " · ",
            f"{self.entry_word} {literal(self.entry) or '…'}",
            " · operator ",
            (literal(self.operator) or "…", "bold"),
        )
        self.query_one("#where", Static).update(where)
        mode = self.query_one("#mode", Static)
        mode.update(Text("READ-ONLY", "bold") if self.read_only else Text("read-write"))
        mode.set_class(self.read_only, "read-only")
