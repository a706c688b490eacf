"""``l``: what one instance printed, and what it prints from now on.

Textual's ``Log`` draws it (a ``ScrollView`` with the Line API, as toolong does), so a
long log costs a screenful of lines, not a widget per line. Lines are shown literally:
plain text, never markup, control characters written as escapes. New lines arrive from
the backend's ``follow`` in a worker and are written a few times a second in batches;
the view follows the end unless the operator scrolled up to read.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Log, Static
from textual.worker import Worker, WorkerState

from backends.engine.session import FleetSession
from backends.engine.updates import describe
from tui import actions
from tui.formatting import counted, literal
from tui.throttle import Throttle
from tui.widgets.header import FleetHeader

TAIL = 1000  # lines read back when the view opens; `molt logs --lines N` reads more
KEEP = 20_000  # lines kept while following; older ones scroll away
WRITES_PER_SECOND = 10  # a chatty instance costs a few frames a second, not one per line


class LogsScreen(Screen[None]):
    """One instance's output, followed live; ``escape`` goes back."""

    BINDINGS = actions.bindings("logs")

    state: reactive[str] = reactive("reading")
    """``reading`` the tail, ``following`` new lines, ``ended`` or ``failed``."""

    def __init__(self, session: FleetSession, instance: str, *, lines: int = TAIL) -> None:
        super().__init__()
        self.session, self.instance, self.tail = session, instance, lines
        self.problem = ""  # one line: why there are no (more) lines
        self.printed = 0  # lines shown since the view opened
        self._pending: list[str] = []
        self._writes: Throttle | None = None

    def compose(self) -> ComposeResult:
        header = FleetHeader()
        header.show_session(self.session)
        yield header
        yield Static(id="logs-title")
        yield Log(max_lines=KEEP, id="log-lines")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._writes = Throttle(self, 1 / WRITES_PER_SECOND, self._write)
        self.query_one(Log).focus()
        self._show_title()
        self._follow()

    def on_unmount(self) -> None:
        if self._writes is not None:
            self._writes.cancel()

    @property
    def where(self) -> str:
        """``g2-1 · 10.0.2.1:8000 · g2 v2``: which instance, as the last read knows it."""
        snapshot = self.session.snapshot
        for generation in snapshot.generations if snapshot else ():
            for instance in generation.instances:
                if instance.id == self.instance:
                    return (
                        f"{instance.id} · {instance.address} · {generation.id} {generation.version}"
                    )
        return self.instance

    # reading and following ---------------------------------------------------------------
    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _follow(self) -> None:
        backend = self.session.backend
        self._add(await backend.logs(self.instance, self.tail))
        self._write()
        self.state = "following"
        async for line in backend.follow(self.instance):
            self._add([line])
        self.state = "ended"

    def _add(self, lines: list[str]) -> None:
        if lines and self._writes is not None:
            self._pending.extend(lines)
            self._writes.touch()

    def _write(self) -> None:
        lines, self._pending = self._pending, []
        if lines:
            self.printed += len(lines)
            log = self.query_one(Log)
            following = log.is_vertical_scroll_end  # not scrolled up to read
            log.write_lines([literal(line) for line in lines])
            if following:  # the scroll range grows only at the next layout: follow it then
                log.call_after_refresh(log.scroll_end, animate=False)
            self._show_title()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            title, message = describe(event.worker.error)
            self.problem = f"{title}: {message}"
            self.state = "failed"

    def watch_state(self) -> None:
        if self.is_mounted:
            self._show_title()

    def _show_title(self) -> None:
        line = Text.assemble((f" {literal(self.where)} ", "bold reverse"), "  ")
        if self.state == "failed":
            line.append(f"⚠ {literal(self.problem)}", "bold red")
        elif self.state == "ended":
            line.append(f"{counted(self.printed, 'line')} · the instance's output ended", "dim")
        elif self.state == "reading":
            line.append("reading…", "dim")
        elif not self.printed:
            line.append("following · nothing printed yet", "dim")
        else:
            line.append(f"following · {counted(self.printed, 'line')}", "")
        self.query_one("#logs-title", Static).update(line)

    # keys --------------------------------------------------------------------------------
    def action_follow_end(self) -> None:
        self.query_one(Log).scroll_end(animate=False)

    def action_back(self) -> None:
        self.dismiss()
