"""``?``: every key of the fleet view, what it does, and what the glyphs mean."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from backends.core.events import EventKind
from backends.core.model import Health
from backends.core.rollout_judge import CheckState
from tui.formatting import EVENT_MARKS, FLAG, GLYPHS, REBUILD, RESTARTED, TAINTED
from tui.rollout_view import CHECK_MARKS
from tui.widgets.attention import INTERRUPTED, LOCKED, ROLLING
from tui.widgets.estate_table import ATTENTION, UNREACHABLE

EVENT_WORDS = {
    EventKind.ACTION: "an operator's action (from the journal)",
    EventKind.STATE: "a generation's state changed",
    EventKind.WEIGHTS: "the weights changed",
    EventKind.ERROR: "a read failed (or works again)",
    EventKind.DIFFERENCE: "the fleet differs from what Molt set",
    EventKind.TRAFFIC: "a generation crossed its baseline",
}


def legend() -> list[tuple[str, str]]:
    """What every glyph of the fleet view means: its columns, its attention lines, a
    rollout's checks and the event stream, as (what, glyph and meaning) rows: one glyph a
    row, so none wraps away from its words."""
    check = {state: CHECK_MARKS[state][0] for state in CheckState}
    rows = [
        ("instances", [f"{GLYPHS[Health.HEALTHY]} healthy", f"{GLYPHS[Health.PENDING]} pending",
                       f"{GLYPHS[Health.UNHEALTHY]} unhealthy", f"{GLYPHS[Health.GONE]} gone",
                       f"{RESTARTED} restarted"]),
        ("traffic", ["█ weight", "▓ staged gain", "▒ staged loss", "░ none",
                     "┏━┓ the selected generation"]),
        ("marks", [f"{FLAG} worse than its baseline on real requests",
                   f"{TAINTED} tainted: it drifted from what was launched",
                   f"{REBUILD} due a rebuild (older than max_age)"]),
        ("attention", [f"{INTERRUPTED} an action interrupted mid-way",
                       f"{LOCKED} someone holds the fleet lock",
                       f"{ROLLING} a rollout, wherever it is driven"]),
        ("rollout", [f"{check[CheckState.PASSED]} passed",
                     f"{check[CheckState.HOLDING]} holding for evidence",
                     f"{check[CheckState.PENDING]} pending", f"{check[CheckState.FAILED]} failed",
                     f"{check[CheckState.NOT_JUDGED]} not judged"]),
        ("events", [f"{mark} {EVENT_WORDS.get(kind, kind.value)}"
                    for kind, mark in EVENT_MARKS.items()]),
        ("estate", [f"{ATTENTION} needs attention: a held lock, an interrupted action, a taint,"
                    " worse than its baseline",
                    f"{UNREACHABLE} cannot be read: why, and since when (its last numbers stay)"]),
    ]  # fmt: skip
    return [(what if n == 0 else "", entry) for what, each in rows for n, entry in enumerate(each)]


class HelpModal(ModalScreen[None]):
    """Keys as (keys, what, more) rows; refused ones are marked in read-only mode."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "close", id="help.close")]

    def __init__(self, rows: Sequence[tuple[str, str, str]], read_only: bool) -> None:
        super().__init__(classes="dialog-screen")
        self.rows = rows
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for keys, what, more in self.rows:
            table.add_row(keys, what, Text(more, style="dim"))
        with VerticalScroll(classes="dialog help"):
            yield Label("Molt keys", classes="dialog-title")
            hint = "↑ ↓ scroll: what the glyphs mean is below the keys · escape closes"
            yield Static(hint, classes="dialog-hint")
            if self.read_only:
                yield Static("\nRead-only: keys that change the fleet are refused.")
            yield Static("")
            yield Static(table)
            glyphs = Table.grid(padding=(0, 2))
            glyphs.add_column(style="bold", no_wrap=True)
            glyphs.add_column()
            for title, text in legend():
                glyphs.add_row(title, text)
            yield Static("")
            yield Static(glyphs)
            yield Static("\nescape closes this help", classes="dialog-body")

    def action_close(self) -> None:
        self.dismiss(None)
