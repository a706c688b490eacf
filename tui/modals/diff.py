"""``d``: what changed from the previous generation to the selected one — version,
artifact and its digest, files added, removed or changed (from the manifests Molt kept at
launch), count, note, who and when; on AWS the launch template's fields.

The comparison is :func:`backends.core.diff.diff`, the one ``molt diff`` prints; everything
in it came from outside, so it is shown as ``Text``, never markup."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from backends.core.diff import Difference, diff
from backends.core.model import FleetSnapshot, Generation
from backends.engine.session import FleetSession
from backends.engine.updates import describe
from tui.formatting import literal

MARKS = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}


def previous(snapshot: FleetSnapshot, generation_id: str) -> Generation | None:
    """The generation launched before ``generation_id`` that is not retired, if any."""
    ids = [g.id for g in snapshot.generations]
    if generation_id not in ids or ids.index(generation_id) == 0:
        return None
    return snapshot.generations[ids.index(generation_id) - 1]


def differences_table(differences: list[Difference]) -> Table:
    """One row per difference: ``+ file feature.py``, ``~ version  v2 → v3``."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(style="bold", overflow="fold")
    table.add_column(overflow="fold")
    for d in differences:
        glyph, style = MARKS.get(d.change, ("~", "yellow"))
        what = literal(d.what)
        change = Text()
        if d.change == "changed" and (d.before or d.after):
            change.append(literal(d.before) or "—", "dim")
            change.append(" → ")
            change.append(literal(d.after) or "—")
        else:
            change.append(d.change, style)
        table.add_row(Text(glyph, style), Text(what), change)
    return table


class DiffModal(ModalScreen[None]):
    """The selected generation against the one before it; ``escape`` closes."""

    BINDINGS = [Binding("escape,q,d", "close", "close", id="diff.close")]

    def __init__(self, session: FleetSession, generation_id: str) -> None:
        super().__init__(classes="dialog-screen")
        self.session, self.generation_id = session, generation_id
        self.differences: list[Difference] | None = None  # once compared

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog diff"):
            yield Label(
                Text(f"{self.generation_id}: reading…"), classes="dialog-title", id="diff-title"
            )
            yield Static(id="diff-body", classes="dialog-body")
            yield Static("escape closes", classes="dialog-hint")

    def on_mount(self) -> None:
        self._compare()

    @work(exclusive=True, group="diff", exit_on_error=False)
    async def _compare(self) -> tuple[Generation | None, Generation | None, list[Difference]]:
        snapshot = self.session.snapshot or await self.session.read()
        b = snapshot.generation(self.generation_id)
        a = previous(snapshot, self.generation_id)
        if a is None or b is None:
            return a, b, []
        frozen: list[dict[str, Any]] = []
        for g in (a, b):
            frozen.append(await self.session.backend.frozen(g.id))
        return a, b, diff(a, b, frozen[0], frozen[1])

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        title = self.query_one("#diff-title", Label)
        body = self.query_one("#diff-body", Static)
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            name, message = describe(event.worker.error)
            title.update(Text(f"{self.generation_id}: no diff"))
            body.update(Text(f"⚠ {name}: {literal(message)}", "bold red"))
        elif event.state is WorkerState.SUCCESS and event.worker.result is not None:
            a, b, self.differences = event.worker.result
            if b is None:
                title.update(Text(f"{self.generation_id} is retired or gone"))
            elif a is None:
                title.update(Text(f"{b.id} ({literal(b.version)})"))
                body.update(Text(f"{b.id} is the oldest generation: nothing before it to compare"))
            else:
                count = len(self.differences)
                title.update(
                    Text(
                        f"{a.id} ({literal(a.version)}) → {b.id} ({literal(b.version)})"
                        f" · {count} difference{'s' * (count != 1)}"
                    )
                )
                body.update(differences_table(self.differences) if count else "no difference")

    def action_close(self) -> None:
        self.dismiss(None)
