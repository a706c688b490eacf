"""Yes or no, naming the target: promote g2? roll back to g1?

Title and body are shown literally (``Text``, never markup): they carry versions, notes
and weights that came from outside."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmationModal(ModalScreen[bool]):
    """Ask before a consequential action; ``True`` means go ahead."""

    BINDINGS = [
        Binding("y", "confirm", "yes", id="confirm.yes"),
        Binding("n,escape", "cancel", "no", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str | Text, confirm_label: str = "Confirm") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text), classes="dialog-title", id="confirm-title")
            body = Text(self.body) if isinstance(self.body, str) else self.body
            yield Static(body, classes="dialog-body", id="confirm-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", variant="warning", id="confirm")
                yield Button("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
