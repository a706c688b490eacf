"""``q`` while an operation is in flight: wait for it, quit now and leave it resumable,
or stay. Quitting never stops a fleet, but it would cut an operation short."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from backends.engine.session import FleetSession

QuitChoice = Literal["now", "finished"]
REFRESH = 0.25  # seconds between looks at the operations while waiting


class QuitModal(ModalScreen[QuitChoice | None]):
    """Returns ``"finished"`` once every operation ended (the operator chose to wait),
    ``"now"`` to quit at once (operations interrupted: the journal says so, and running
    the same action again finishes them), ``None`` to stay in Molt."""

    BINDINGS = [
        Binding("w", "wait", "wait", id="quit.wait"),
        Binding("n", "now", "quit now", id="quit.now"),
        Binding("escape", "cancel", "cancel", id="quit.cancel"),
    ]

    def __init__(self, sessions: Sequence[FleetSession]) -> None:
        super().__init__(classes="dialog-screen")
        self.sessions = sessions
        self.waiting = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Operations in flight", classes="dialog-title", id="quit-title")
            yield Static(id="operations", classes="dialog-body")
            yield Static(
                "Quitting now interrupts them: the journal records them interrupted, and "
                "running the same action again finishes them. The fleet keeps running.",
                id="quit-why",
                classes="dialog-body",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Wait, then quit (w)", variant="primary", id="wait")
                yield Button("Quit now (n)", variant="warning", id="now")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self._show()
        self.set_interval(REFRESH, self._show, name="quit-progress")
        self.query_one("#wait", Button).focus()

    def operations(self) -> list[str]:
        """``web: retiring g3 (draining) · 12 s`` per operation in flight."""
        now = asyncio.get_running_loop().time()
        return [
            f"{session.name}: {operation.doing} · {now - operation.started:.0f} s"
            for session in self.sessions
            for operation in session.in_flight
        ]

    def _show(self) -> None:
        lines = self.operations()
        if self.waiting and not lines:
            self.dismiss("finished")
            return
        self.query_one("#operations", Static).update(Text("\n".join(lines)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"wait": self.action_wait, "now": self.action_now, "cancel": self.action_cancel}
        actions[str(event.button.id)]()

    def action_wait(self) -> None:
        """Stay open, showing progress, and quit once every operation has ended."""
        if self.waiting:
            return
        self.waiting = True
        count = len(self.operations())
        self.query_one("#quit-title", Label).update(
            f"Waiting for {count} operation{'s' * (count != 1)} to finish, then quitting…"
        )
        self.query_one("#wait", Button).display = False
        self.query_one("#cancel", Button).label = "Back to Molt (esc)"
        self.query_one("#now", Button).focus()
        self._show()

    def action_now(self) -> None:
        self.dismiss("now")

    def action_cancel(self) -> None:
        self.dismiss(None)
