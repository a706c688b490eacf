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

from backends.core.model import Health
from tui.formatting import GLYPHS

LEGEND = (
    f"{GLYPHS[Health.HEALTHY]} healthy   {GLYPHS[Health.PENDING]} pending   "
    f"{GLYPHS[Health.UNHEALTHY]} unhealthy\n"
    "█ weight   ▓ staged gain   ▒ staged loss   ┏━┓ the selected generation"
)


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
            if self.read_only:
                yield Static("Read-only: keys that change the fleet are refused.\n")
            yield Static(table)
            yield Static("\n" + LEGEND)
            yield Static("\nescape closes this help", classes="dialog-body")

    def action_close(self) -> None:
        self.dismiss(None)
