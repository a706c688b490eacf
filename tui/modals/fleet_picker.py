"""Pick another fleet (``f``) when molt.toml has several."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from backends.config.fleet_config import FleetConfig


class FleetPicker(ModalScreen[str | None]):
    """Returns the chosen fleet's name."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="fleets.cancel")]

    def __init__(self, fleets: Sequence[FleetConfig], current: str) -> None:
        super().__init__(classes="dialog-screen")
        self.fleets = fleets
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Switch fleet", classes="dialog-title")
            yield OptionList(
                *(
                    Option(
                        Text(
                            f"{f.name}  ({f.backend})"
                            + ("  ← open" if f.name == self.current else "")
                        ),
                        id=f.name,
                    )
                    for f in self.fleets
                ),
                id="fleets",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        names = [f.name for f in self.fleets]
        options.highlighted = names.index(self.current) if self.current in names else 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
