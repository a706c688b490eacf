"""``enter`` on a generation: its instances, its frozen spec and its journal entries —
and, for the incident responder, its drift findings (a tainted generation), whether it
is due a rebuild, ``l`` the selected instance's logs and ``d`` the diff against the
previous generation.

It renders the fleet's :class:`~backends.engine.session.FleetSession` on its own (the App
posts it the session's reads and events as :mod:`tui.messages`), so it needs nothing
from the fleet view.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

import humanize
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from backends.core.events import EventKind
from backends.core.journal import JournalRecord
from backends.core.model import FleetSnapshot, Generation, Instance, iso
from backends.core.traffic import traffic_line
from backends.engine.session import FleetSession
from backends.engine.updates import describe
from tui import actions, messages
from tui.formatting import (
    GLYPHS,
    REBUILD,
    TAINTED,
    age,
    clock_time,
    counts_summary,
    literal,
    record_event,
)
from tui.modals.diff import DiffModal
from tui.screens.logs import LogsScreen
from tui.throttle import Throttle
from tui.widgets.header import FleetHeader

SHOWS_PER_SECOND = 5  # a table of hundreds of rows: updated in place, a few times a second
COLUMNS = (
    "instance", "address", "health", "real requests", "last check", "latency", "healthy since"
)
HEALTH_STYLES = {"healthy": "green", "pending": "yellow", "unhealthy": "bold red", "gone": "dim"}


class InspectScreen(Screen[None]):
    """One generation in detail; follows the fleet view's reads while it is open."""

    BINDINGS = actions.bindings("inspect")

    snapshot: reactive[FleetSnapshot | None] = reactive(None)
    """The fleet as last read by the session."""

    def __init__(
        self,
        session: FleetSession,
        generation_id: str,
        *,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.session, self.generation_id = session, generation_id
        self.clock, self.tz = clock, tz
        self.set_reactive(InspectScreen.snapshot, session.snapshot)
        self.records: list[JournalRecord] = []
        self._shown: dict[str, tuple[object, ...]] = {}  # the cells on screen, per instance
        self._shows = Throttle(self, 1 / SHOWS_PER_SECOND, self._follow)

    def compose(self) -> ComposeResult:
        header = FleetHeader()
        header.show_session(self.session)
        yield header
        yield Static(id="inspect-title")
        yield Static(id="spec")
        yield DataTable(id="instances", cursor_type="row", zebra_stripes=True)
        yield VerticalScroll(Static(id="journal-lines"), id="journal")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#instances", DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.query_one("#spec").border_title = "spec"
        self.query_one("#journal").border_title = "journal"
        self._show()
        self.load_journal()
        table.focus()

    def on_unmount(self) -> None:
        self._shows.cancel()

    @on(messages.SnapshotRead)
    def _snapshot_read(self) -> None:
        self._shows.touch()

    @on(messages.EventsArrived)
    def _events_arrived(self, message: messages.EventsArrived) -> None:
        if any(e.kind is EventKind.ACTION for e in message.events):
            self.load_journal()  # the journal is the truth of actions

    def _follow(self) -> None:
        self.snapshot = self.session.snapshot

    @property
    def generation(self) -> Generation | None:
        return self.snapshot.generation(self.generation_id) if self.snapshot else None

    def watch_snapshot(self) -> None:
        if self.is_mounted:
            self._show()

    def _show(self) -> None:
        g = self.generation
        title = self.query_one("#inspect-title", Static)
        if g is None:
            title.update(f" {self.generation_id} is retired or gone — escape returns")
            return
        line = Text.assemble(
            (f" {g.id}  {literal(g.version)} ", "bold reverse"),
            f"  {g.state.value.upper()} · weight {g.weight}% · {counts_summary(g)}",
        )
        if g.tainted:
            line.append(f"  {TAINTED} TAINTED", "bold red")
        if g.rebuild_due:
            line.append(f"  {REBUILD} REBUILD DUE", "bold yellow")
        title.update(line)
        self._show_instances(g.instances)
        self.query_one("#spec", Static).update(self._spec(g))

    def _show_instances(self, instances: tuple[Instance, ...]) -> None:
        """Keyed updates: rows stay put (and the cursor with them) as health changes."""
        table = self.query_one("#instances", DataTable)
        now = self.clock()
        with self.app.batch_update():
            wanted = {i.id for i in instances}
            for key in [k for k in table.rows if k.value not in wanted]:
                table.remove_row(key)
                self._shown.pop(str(key.value), None)
            for instance in instances:
                cells = self._cells(instance, now)
                before = self._shown.get(instance.id)
                if before is None:
                    table.add_row(*cells, key=instance.id)
                else:
                    for column, value, was in zip(COLUMNS, cells, before, strict=True):
                        if value != was:  # only what changed: hundreds of rows stay cheap
                            table.update_cell(instance.id, column, value)
                self._shown[instance.id] = cells

    def _cells(self, instance: Instance, now: datetime) -> tuple[object, ...]:
        health = instance.health.value
        since = "—"
        if instance.healthy_since is not None:
            since = f"{clock_time(instance.healthy_since, self.tz)} · " + age(
                instance.healthy_since, now
            )
        latency = f"{instance.latency_ms:.0f} ms" if instance.latency_ms is not None else "—"
        return (  # a DataTable reads plain strings as markup: what came from outside is Text
            Text(literal(instance.id)),
            Text(literal(instance.address)),
            Text(f"{GLYPHS[instance.health]} {health}", HEALTH_STYLES.get(health, "")),
            traffic_line(instance.traffic) if instance.traffic is not None else "—",
            Text(literal(instance.last_check) or "—"),
            latency,
            since,
        )

    def _spec(self, g: Generation) -> Table:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        table.add_row("artifact", Text(literal(g.artifact) or "—"))  # from outside: never markup
        table.add_row("manifest", Text(literal(g.digest) or "—"))
        table.add_row("launched by", Text(literal(g.launched_by) or "—"))
        table.add_row(
            "when",
            f"{iso(g.launched_at)} ({age(g.launched_at, self.clock())})",
        )
        table.add_row("instances", str(g.count or len(g.instances)))
        table.add_row("note", Text(literal(g.note) or "—"))
        if g.tainted:
            found = Text("tainted: retire it and launch a new generation", "bold red")
            for finding in g.drift:
                found.append("\n" + literal(finding), "")
            table.add_row(Text(f"{TAINTED} drift", "bold red"), found)
        if g.rebuild_due:
            limit = self.session.fleet.max_age
            older = f" (max age {humanize.naturaldelta(limit)})" if limit else ""
            launched = f"launched {age(g.launched_at, self.clock())}{older}: due a rebuild"
            table.add_row(Text(f"{REBUILD} rebuild", "bold yellow"), launched)
        return table

    # journal ------------------------------------------------------------------------------
    def load_journal(self) -> None:
        self._read_journal()

    @work(exclusive=True, group="inspect-journal", exit_on_error=False)
    async def _read_journal(self) -> list[JournalRecord]:
        return await self.session.history()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.SUCCESS:
            records = event.worker.result or []
            self.records = [r for r in records if record_event(r).concerns(self.generation_id)]
            self._show_journal()
        elif event.state is WorkerState.ERROR and event.worker.error is not None:
            title, message = describe(event.worker.error)
            self.query_one("#journal-lines", Static).update(Text(f"{title}: {message}", "red"))

    def _show_journal(self) -> None:
        if not self.records:
            self.query_one("#journal-lines", Static).update(Text("no actions yet", "dim"))
            return
        lines = Text()
        for record in reversed(self.records):
            lines.append(f"{iso(record.at)} ", "dim")
            lines.append(f"{record.operator} ", "bold")
            lines.append(f"{record.outcome.value:<8} ", "")
            lines.append(record.summary() + "\n")
        self.query_one("#journal-lines", Static).update(lines)

    # the incident responder's keys --------------------------------------------------------
    @property
    def selected_instance(self) -> str | None:
        """The instance under the table's cursor (the first, before any is chosen)."""
        table = self.query_one("#instances", DataTable)
        if not table.row_count:
            return None
        row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(row.value) if row.value is not None else None

    def action_logs(self) -> None:
        instance = self.selected_instance
        if instance is None:
            self.notify(f"{self.generation_id} has no instance to show the logs of")
            return
        self.app.push_screen(LogsScreen(self.session, instance))

    def action_diff(self) -> None:
        self.app.push_screen(DiffModal(self.session, self.generation_id))

    def action_back(self) -> None:
        self.dismiss()
