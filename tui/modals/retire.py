"""Retiring destroys a generation: the operator types its id to confirm."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from backends.core.model import Generation
from tui.formatting import counted, literal


class RetireModal(ModalScreen[bool]):
    """``True`` once the operator typed the generation's id exactly."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="retire.cancel")]

    def __init__(self, generation: Generation) -> None:
        super().__init__(classes="dialog-screen")
        self.generation = generation

    def compose(self) -> ComposeResult:
        g = self.generation
        with Vertical(classes="dialog"):
            title = Text(f"Retire {g.id} ({literal(g.version)})?")
            yield Label(title, classes="dialog-title", id="retire-title")
            yield Static(
                Text.assemble(
                    f"{g.id} carries {g.weight}% of traffic. Retiring only removes it from "
                    "the load balancer: it was not launched by Molt, so its instances are "
                    "left running and untouched.\n\n"
                    if g.external
                    else f"{g.id} carries {g.weight}% of traffic. Retiring drains its in-flight "
                    f"requests, then destroys its {counted(len(g.instances), 'instance')}. "
                    "Its record stays in history; it cannot be brought back.\n\n",
                    "Type ",
                    (g.id, "bold"),
                    " to confirm:",
                ),
                classes="dialog-body",
            )
            yield Input(placeholder=g.id, id="typed")
            yield Label("", id="mismatch", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Retire {g.id}", variant="error", id="retire")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    def on_input_submitted(self) -> None:
        self._check()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "retire":
            self._check()
        else:
            self.dismiss(False)

    def _check(self) -> None:
        typed = self.query_one("#typed", Input).value.strip()
        if typed == self.generation.id:
            self.dismiss(True)
            return
        shown = f"“{literal(typed)}” is not {self.generation.id}" if typed else "nothing typed"
        self.query_one("#mismatch", Label).update(
            Text(f"{shown}: not retired. Type {self.generation.id} exactly, or escape to cancel.")
        )

    def action_cancel(self) -> None:
        self.dismiss(False)
