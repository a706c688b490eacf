"""The fleet view: generations side by side above the live event stream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from backends.base import Backend
from backends.config import FleetConfig
from backends.model import Event, EventKind, FleetSnapshot
from backends.operations import Operations
from tui.formatting import entry_label, record_event, staged_text
from tui.messages import JournalRead, OperationDone, OperatorKnown, Prepared, Progress
from tui.modals.fleet_picker import FleetPicker
from tui.modals.help import HelpModal
from tui.screens.fleet_actions import FleetActions
from tui.screens.fleet_keys import KEYS, MUTATING, help_rows
from tui.screens.inspect import InspectScreen
from tui.staging import still_applies
from tui.widgets.event_log import EventLog
from tui.widgets.generation import GenerationColumn
from tui.widgets.generations import GenerationStrip
from tui.widgets.header import FleetHeader
from tui.widgets.status import StatusLine

JOURNAL_SEED = 500  # past actions shown at start; `molt history` has them all


class FleetScreen(FleetActions, Screen[None]):
    """One fleet: select a generation, act on it, watch what happens."""

    AUTO_FOCUS = ""  # keys belong to the fleet view until `/` opens the filter

    BINDINGS = KEYS

    # repaint=False: the screen draws nothing itself; the widgets these bind to repaint
    snapshot: reactive[FleetSnapshot | None] = reactive(None, repaint=False)
    """The fleet as last read; pushed down to the generation columns."""
    selected: reactive[str | None] = reactive(None, repaint=False)
    """The selected generation's id."""
    staged: reactive[dict[str, int] | None] = reactive(None, repaint=False)
    """A shift staged with ``+``/``-``, not applied yet."""
    filtering: reactive[bool] = reactive(False, repaint=False)
    """The filter input is open."""

    def __init__(
        self,
        fleet: FleetConfig,
        backend: Backend,
        *,
        state_dir: Path,
        read_only: bool = False,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
        fleet_count: int = 1,
    ) -> None:
        super().__init__()
        self.fleet, self.backend, self.state_dir = fleet, backend, state_dir
        self.ops = Operations(backend, read_only=read_only)
        self.read_only, self.clock, self.tz, self.fleet_count = read_only, clock, tz, fleet_count
        self.preparing = ""
        self._follow_launch: str | None = None  # select this generation once it shows
        self._binding_state: tuple[bool, ...] = ()
        self.init_workers()

    def compose(self) -> ComposeResult:
        header = FleetHeader()
        header.fleet, header.read_only = self.fleet.name, self.read_only
        yield header
        yield GenerationStrip(self.clock).data_bind(
            FleetScreen.snapshot, FleetScreen.selected, FleetScreen.staged
        )
        yield StatusLine()
        with Vertical(id="events"):
            yield EventLog(self.tz).data_bind(highlight=FleetScreen.selected)
            yield Input(
                placeholder="filter: text, g3, g3-1 — enter keeps it, escape clears", id="filter"
            )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#events").border_title = "events"
        self.query_one(GenerationStrip).placeholder = "reading the fleet…"
        self.set_interval(1.0, self._refresh_ages, name="ages")
        self.start_session()

    async def on_unmount(self) -> None:
        self.workers.cancel_node(self)
        await self.backend.close()

    # what applies now -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "refuse":
            return self.read_only
        if action in MUTATING and self.read_only:
            return False  # hidden from the footer; the key falls through to `refuse`
        generations = self.snapshot.generations if self.snapshot else ()
        chosen = self.selected_generation is not None
        rules: dict[str, bool] = {
            "select": len(generations) > 0,
            "stage": chosen and len(generations) > 1,
            "apply": self.staged is not None,
            "drop": self.staged is not None and not self.filtering,
            "inspect": chosen and self.staged is None,
            "promote": chosen,
            "rollback": len(generations) > 1 and any(g.weight for g in generations),
            "retire": chosen,
            "close_filter": self.filtering,
            "fleets": self.fleet_count > 1,
        }
        return rules.get(action, True)

    # painting (called by the workers' throttle) ---------------------------------------------
    def paint_events(self, events: list[Event]) -> None:
        self.query_one(EventLog).add_events(events)
        if any(e.kind is EventKind.ACTION for e in events):
            for screen in self._inspectors():
                screen.load_journal()

    def paint_snapshot(self, snapshot: FleetSnapshot) -> None:
        header = self.query_one(FleetHeader)
        header.backend, header.entry = snapshot.backend, snapshot.entry
        ids = [g.id for g in snapshot.generations]
        if self._follow_launch in ids:
            self.selected, self._follow_launch = self._follow_launch, None
        elif self.selected not in ids:
            self.selected = ids[-1] if ids else None
        if self.staged is not None and not still_applies(snapshot, self.staged):
            self.staged = None
            self.notify("the fleet changed: staged shift dropped", severity="warning")
        self.snapshot = snapshot
        self._refresh_footer()
        self.query_one(GenerationStrip).placeholder = self._placeholder()
        for screen in self._inspectors():
            screen.snapshot = snapshot

    def _refresh_footer(self) -> None:
        """The footer shows what applies now. Textual rebuilds it on every refresh, which
        costs more than the rest of the screen: refresh only when what applies changed,
        not on every read or arrow key."""
        generations = self.snapshot.generations if self.snapshot else ()
        state = (
            len(generations) > 0,
            len(generations) > 1,
            any(g.weight for g in generations),
            self.selected_generation is not None,
            self.staged is not None,
            self.filtering,
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def watch_selected(self) -> None:
        self._refresh_footer()

    def watch_filtering(self) -> None:
        self._refresh_footer()

    def _placeholder(self) -> str:
        if self.preparing:
            return self.preparing
        if self.read_only:
            return "no generations yet"
        return "no generations yet — press n to launch one"

    def show_status(self, *, activity: str, problem: str) -> None:
        status = self.query_one(StatusLine)
        status.activity = ", ".join(t for t in (self.preparing, activity) if t)
        status.problem = problem

    def watch_staged(self, staged: dict[str, int] | None) -> None:
        text = staged_text(self.snapshot.weights, staged) if staged and self.snapshot else ""
        self.query_one(StatusLine).staged = text
        self._refresh_footer()

    def _refresh_ages(self) -> None:
        self.query_one(GenerationStrip).refresh_ages()

    def _inspectors(self) -> list[InspectScreen]:
        return [s for s in self.app.screen_stack if isinstance(s, InspectScreen)]

    # worker results -------------------------------------------------------------------------
    @on(OperatorKnown)
    def _operator_known(self, message: OperatorKnown) -> None:
        self.query_one(FleetHeader).operator = message.operator

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        self.preparing = message.text
        self.query_one(GenerationStrip).placeholder = message.text
        self._update_status()

    @on(Prepared)
    def _prepared(self) -> None:
        self.preparing = ""
        self.query_one(GenerationStrip).placeholder = self._placeholder()
        self._update_status()
        self.request_read()

    @on(JournalRead)
    def _journal_read(self, message: JournalRead) -> None:
        log = self.query_one(EventLog)
        streamed = {e.message for e in log.visible_events if e.kind is EventKind.ACTION}
        past = [record_event(r) for r in message.records[-JOURNAL_SEED:]]
        log.add_events([e for e in past if e.message not in streamed], in_order=True)

    @on(OperationDone)
    def _operation_done(self, message: OperationDone) -> None:
        self.notify(message.text, title="Done", timeout=4)
        if message.generation is not None:
            self._follow_launch = message.generation.id
        self.request_read()

    @on(GenerationColumn.Clicked)
    def _column_clicked(self, message: GenerationColumn.Clicked) -> None:
        self.selected = message.generation_id

    # navigation -----------------------------------------------------------------------------
    def action_select(self, step: int) -> None:
        ids = [g.id for g in self.snapshot.generations] if self.snapshot else []
        if not ids:
            return
        index = ids.index(self.selected) if self.selected in ids else len(ids) - 1
        self.selected = ids[max(0, min(len(ids) - 1, index + step))]

    def action_select_generation(self, generation_id: str) -> None:
        self.selected = generation_id

    def action_inspect(self) -> None:
        target = self.selected_generation
        if target is not None and self.snapshot is not None:
            self.app.push_screen(InspectScreen(self, target.id, self.snapshot))

    def action_filter(self) -> None:
        self.filtering = True
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(EventLog).filter_text = event.value
        events = self.query_one("#events")
        events.border_title = f"events · filter: {event.value}" if event.value else "events"

    @on(Input.Submitted, "#filter")
    def _filter_kept(self) -> None:
        self._close_filter()

    def action_close_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self._close_filter()

    def _close_filter(self) -> None:
        self.filtering = False
        self.query_one("#filter").display = False
        self.set_focus(None)

    def action_fleets(self) -> None:
        fleets = list(getattr(self.app, "fleets", {}).values())
        self.app.push_screen(FleetPicker(fleets, self.fleet.name), self._fleet_chosen)

    def _fleet_chosen(self, name: str | None) -> None:
        if name and name != self.fleet.name:
            self.call_later(self.run_action, f"app.open_fleet('{name}')")

    def action_help(self) -> None:
        self.app.push_screen(HelpModal(self.help_rows(), self.read_only))

    def help_rows(self) -> list[tuple[str, str, str]]:
        return help_rows(self.read_only)

    async def action_quit(self) -> None:
        await self.run_action("app.quit")

    def goodbye(self) -> str:
        """What Molt says on the way out: closing it never stops the fleet."""
        snapshot = self.snapshot
        where = ""
        if snapshot is not None:
            count = len(snapshot.generations)
            where = (
                f" ({count} generation{'s' * (count != 1)}, "
                + entry_label(snapshot.backend, snapshot.entry)
                + ")"
            )
        text = f"Molt closed; the {self.fleet.name} fleet keeps running{where}."
        if self.fleet.backend == "local":
            text += " `molt agent stop` stops the local agent and its instances."
        return text

    def allowed(self, action: str, *parameters: Any) -> bool:
        return bool(self.check_action(action, parameters))
