"""The fleet view: generations side by side above the live event stream.

It renders one :class:`~backends.engine.session.FleetSession` (whose updates the App
posts to it as :mod:`tui.messages`) and owns the small parts that act on it: what a key
does is its row in :mod:`tui.actions` and its ``action_`` method below, which asks one
part — :class:`FleetOperations`, :class:`RolloutControls`, :class:`IncidentKeys` — to act.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from backends.config.fleet_config import FleetConfig
from backends.core.events import Event
from backends.core.model import FleetSnapshot, Generation
from backends.core.rollout import Rollout
from backends.engine import updates
from backends.engine.session import FleetSession
from backends.engine.updates import InFlight
from tui import actions, footer_fit, messages
from tui.commands import choices
from tui.formatting import difference_line, literal, staged_text
from tui.modals.fleet_picker import FleetPicker
from tui.modals.help import HelpModal
from tui.rollout_view import active
from tui.screens.fleet_incident import IncidentKeys, taint_lines
from tui.screens.fleet_news import FleetNews
from tui.screens.fleet_operations import FleetOperations
from tui.screens.fleet_rollouts import RolloutControls
from tui.screens.inspect import InspectScreen
from tui.staging import still_applies
from tui.widgets.attention import AttentionBar
from tui.widgets.event_log import EventLog
from tui.widgets.events_pane import EventsPane
from tui.widgets.generation import GenerationColumn
from tui.widgets.generations import GenerationStrip
from tui.widgets.header import FleetHeader
from tui.widgets.status import StatusLine


class FleetScreen(Screen[None]):
    """One fleet: select a generation, act on it, watch what happens."""

    AUTO_FOCUS = ""  # keys belong to the fleet view until `/` opens the filter

    BINDINGS = actions.bindings()

    # repaint=False: the screen draws nothing itself; the widgets these bind to repaint
    snapshot: reactive[FleetSnapshot | None] = reactive(None, repaint=False)
    """The fleet as last read; pushed down to the generation columns."""
    selected: reactive[str | None] = reactive(None, repaint=False)
    """The selected generation's id."""
    staged: reactive[dict[str, int] | None] = reactive(None, repaint=False)
    """A shift staged with ``+``/``-``, not applied yet."""
    filtering: reactive[bool] = reactive(False, repaint=False)
    """The filter input is open."""
    rollout: reactive[Rollout | None] = reactive(None, repaint=False)
    """The fleet's rollout as its truth tells it (wherever it was started), or None."""

    def __init__(
        self,
        session: FleetSession,
        *,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
        fleets: Sequence[FleetConfig] = (),
    ) -> None:
        super().__init__()
        self.session, self.fleet = session, session.fleet
        self.read_only, self.clock, self.tz = session.read_only, clock, tz
        self.fleets = list(fleets) or [session.fleet]
        self.operations = FleetOperations(self)
        self.rollouts = RolloutControls(self)
        self.incident = IncidentKeys(self, clock(), tz)
        self.news = FleetNews(
            self, lambda: self.query_one(StatusLine), lambda: self.query_one(AttentionBar), tz
        )
        self._follow_launch: str | None = None  # select this generation once it shows
        self._keys_for: actions.Situation | None = None  # what the footer was built for

    @property
    def preparing(self) -> str:
        """Progress of the fleet's preparation (the demo's first launch), "" when ready."""
        return self.session.preparing

    @property
    def selected_generation(self) -> Generation | None:
        if self.snapshot is None or self.selected is None:
            return None
        return self.snapshot.generation(self.selected)

    def on_stack(self) -> bool:
        return self in self.app.screen_stack

    def compose(self) -> ComposeResult:
        header = FleetHeader()
        header.show_session(self.session)
        yield header
        yield GenerationStrip(self.clock).data_bind(
            FleetScreen.snapshot, FleetScreen.selected, FleetScreen.staged, FleetScreen.rollout
        )
        yield AttentionBar()
        yield StatusLine()
        with EventsPane(id="events"):
            yield EventLog(self.tz).data_bind(highlight=FleetScreen.selected)
            yield Input(
                placeholder="filter: text, g3, g3-1 — enter keeps it, escape clears", id="filter"
            )
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p: in `?` help

    def on_mount(self) -> None:
        """Show what the session knows already, and start it (once)."""
        self.query_one(GenerationStrip).placeholder = "reading the fleet…"
        self.set_interval(1.0, self._refresh_ages, name="ages")
        if self.session.snapshot is not None:
            self.paint_snapshot(self.session.snapshot)
        if self.session.operator:
            self.query_one(FleetHeader).operator = self.session.operator
        self._show_attention(self.session.seen)
        self.news.show_status()
        self.session.start()

    # what applies now: the action table asked about this moment --------------------------
    def situation(self) -> actions.Situation:
        generations = self.snapshot.generations if self.snapshot else ()
        target = self.selected_generation
        rollout = self.rollout if active(self.rollout) else None
        return actions.Situation(
            generations=len(generations),
            weighted=any(g.weight for g in generations),
            chosen=target is not None,
            chosen_has_instances=target is not None and bool(target.instances),
            staged=self.staged is not None,
            filtering=self.filtering,
            filtered=self.is_mounted and self.query_one(EventsPane).filter_kept,
            rollout=rollout.state if rollout is not None else None,
            fleets=len(self.fleets),
            read_only=self.read_only,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return actions.enabled(action, self.situation())

    def _refresh_footer(self) -> None:
        """The footer shows what applies now. Textual rebuilds it on every refresh, which
        costs more than the rest of the screen: refresh only when what applies changed,
        not on every read or arrow key."""
        now = self.situation()
        if now != self._keys_for:
            self._keys_for = now
            self.refresh_bindings()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with the footer's entries cut to the screen's width."""
        return footer_fit.fit(super().active_bindings, self.size.width, self.app.get_key_display)

    def on_resize(self) -> None:
        self.refresh_bindings()  # the footer's entries follow the width

    def palette_commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) rows for the palette: what applies now, then the
        generations to select and the other fleets."""
        rows = actions.palette_rows(self.situation(), self.selected)
        others = [f.name for f in self.fleets if f.name != self.fleet.name]
        return rows + choices(self.snapshot, others)

    # what the session says (posted by the App's bridge) -------------------------------------
    @on(messages.EventsArrived)
    def _events_arrived(self, message: messages.EventsArrived) -> None:
        self.paint_events(message.events)

    @on(messages.SnapshotRead)
    def _snapshot_read(self, message: messages.SnapshotRead) -> None:
        self.paint_snapshot(message.snapshot)

    def on_screen_resume(self) -> None:
        self.news.show_status()

    @on(messages.OperatorKnown)
    def _operator_known(self, message: messages.OperatorKnown) -> None:
        self.query_one(FleetHeader).operator = message.operator

    @on(messages.PreparingChanged)
    def _preparing(self, message: messages.PreparingChanged) -> None:
        self.query_one(GenerationStrip).placeholder = self._placeholder()
        self.news.show_status()

    @on(messages.HistoryRead)
    def _history_read(self, message: messages.HistoryRead) -> None:
        self.query_one(EventLog).add_events(self.news.history(message.records), in_order=True)

    @on(messages.AttentionChanged)
    def _attention_changed(self, message: messages.AttentionChanged) -> None:
        self._show_attention(message)

    @on(messages.RolloutProgress)
    def _rollout_progress(self, message: messages.RolloutProgress) -> None:
        self.news.progress(message.text)

    @on(messages.OperationsChanged)
    def _operations_changed(self, message: messages.OperationsChanged) -> None:
        operation = message.finished
        if operation is not None:
            self.news.ended(operation, self._took_failure)
            done = operation.done if operation.error is None else None
            if not operation.interrupted and done is not None and done.generation is not None:
                self._follow_launch = done.generation.id  # a launch: select it once it shows
        self.news.show_status()

    @on(messages.ProblemChanged)
    def _problem_changed(self, message: messages.ProblemChanged) -> None:
        self.news.problem_changed(message.problem)

    def _took_failure(self, operation: InFlight) -> bool:
        """Did a part take care of this failed operation itself (no toast)?"""
        return self.rollouts.took_failure(operation) or self.operations.took_failure(operation)

    # painting -------------------------------------------------------------------------------
    def paint_events(self, events: list[Event]) -> None:
        self.news.saw(events)
        self.incident.note(events)
        self.query_one(EventLog).add_events(events)

    def paint_snapshot(self, snapshot: FleetSnapshot) -> None:
        header = self.query_one(FleetHeader)
        header.backend, header.entry = snapshot.backend, snapshot.entry
        self.query_one(StatusLine).difference = literal(difference_line(snapshot.differences))
        ids = [g.id for g in snapshot.generations]
        if self._follow_launch in ids:
            self.selected, self._follow_launch = self._follow_launch, None
        elif self.selected not in ids:
            self.selected = ids[-1] if ids else None
        if self.staged is not None and not still_applies(snapshot, self.staged):
            self.staged = None
            self.notify("the fleet changed: staged shift dropped", severity="warning")
        self.snapshot = snapshot
        self.news.show_taint(taint_lines(snapshot, self.fleet.max_age, self.clock()))
        if self.staged is not None:  # what it would change now, and whether it is stale
            self.watch_staged(self.staged)
        self._refresh_footer()
        self.query_one(GenerationStrip).placeholder = self._placeholder()

    def watch_selected(self) -> None:
        self._refresh_footer()

    watch_filtering = watch_rollout = watch_selected

    def watch_staged(self, staged: dict[str, int] | None) -> None:
        text = staged_text(self.snapshot.weights, staged) if staged and self.snapshot else ""
        on = self.operations.staged_on
        if text and on is not None and self.snapshot and on.revision != self.snapshot.revision:
            text += "   (the fleet changed since: enter asks again)"
        self.query_one(StatusLine).staged = text
        self._refresh_footer()

    def _placeholder(self) -> str:
        if self.preparing:
            return self.preparing
        if self.read_only:
            return "no generations yet"
        return "no generations yet — press n to launch one"

    def _refresh_ages(self) -> None:
        self.query_one(GenerationStrip).refresh_ages()
        if self.session.in_flight:  # how long it has been running
            self.news.show_status()

    def _show_attention(self, update: messages.AttentionChanged | updates.AttentionChanged) -> None:
        """The fleet's rollout (to its columns), interrupted actions and the lock holder."""
        self.rollout = update.rollout
        self.news.show_attention(update)

    @on(GenerationColumn.Clicked)
    def _column_clicked(self, message: GenerationColumn.Clicked) -> None:
        self.selected = message.generation_id

    # the keys: each row of tui/actions.py runs one of these ---------------------------------
    def action_launch(self) -> None:
        self.operations.launch()

    def action_stage(self, step: int) -> None:
        self.operations.stage(step)

    def action_apply(self) -> None:
        self.operations.apply()

    def action_drop(self) -> None:
        self.operations.drop()

    def action_promote(self) -> None:
        self.operations.promote()

    def action_rollback(self) -> None:
        """During a rollout, a rollback aborts it: all traffic to the baseline at once."""
        if active(self.rollout):
            self.rollouts.roll_back()
        else:
            self.operations.rollback()

    def action_retire(self) -> None:
        self.operations.retire()

    def action_refuse(self, action: str) -> None:
        self.operations.refuse(action)

    def action_rollout(self) -> None:
        self.rollouts.start()

    def action_rollout_busy(self) -> None:
        """``R`` while a rollout runs: refused, naming it (and how to go on)."""
        self.rollouts.start()

    def action_pause_rollout(self) -> None:
        self.rollouts.pause()

    def action_resume_rollout(self) -> None:
        self.rollouts.resume()

    def action_abort_rollout(self) -> None:
        self.rollouts.abort()

    def action_logs(self) -> None:
        self.incident.logs()

    def action_timeline(self) -> None:
        self.incident.timeline()

    def action_diff(self) -> None:
        self.incident.diff()

    def action_select(self, step: int) -> None:
        ids = [g.id for g in self.snapshot.generations] if self.snapshot else []
        if not ids:
            return
        index = ids.index(self.selected) if self.selected in ids else len(ids) - 1
        self.selected = ids[max(0, min(len(ids) - 1, index + step))]

    def action_select_generation(self, generation_id: str) -> None:
        self.selected = generation_id

    def show_generation(self, generation_id: str) -> None:
        """Select ``generation_id``, now or once it shows (the changes view's ``enter``)."""
        if self.snapshot is not None and self.snapshot.generation(generation_id) is None:
            self.notify(f"{generation_id} is no longer in the fleet (retired)", markup=False)
        elif self.snapshot is not None:
            self.selected = generation_id
        else:
            self._follow_launch = generation_id  # selected once the first read shows it

    def action_inspect(self) -> None:
        target = self.selected_generation
        if target is not None and self.snapshot is not None:
            inspect = InspectScreen(self.session, target.id, clock=self.clock, tz=self.tz)
            self.app.push_screen(inspect)

    def action_filter(self) -> None:
        self.filtering = True
        self.query_one(EventsPane).open_filter()

    def action_close_filter(self) -> None:
        self.query_one(EventsPane).close_filter(clear=True)
        self._filter_closed()

    action_clear_filter = action_close_filter

    @on(EventsPane.FilterClosed)
    def _filter_closed(self) -> None:
        self.filtering = False
        self.set_focus(None)
        self._refresh_footer()  # a kept filter brings `esc clear filter`

    def action_fleets(self) -> None:
        self.app.push_screen(FleetPicker(self.fleets, self.fleet.name), self._fleet_chosen)

    def _fleet_chosen(self, name: str | None) -> None:
        if name and name != self.fleet.name:
            self.call_later(self.run_action, f"app.open_fleet('{name}')")

    async def action_estate(self) -> None:
        await self.run_action("app.estate")

    async def action_changes(self) -> None:
        await self.run_action("app.changes")

    def action_help(self) -> None:
        self.app.push_screen(HelpModal(actions.help_rows(self.read_only), self.read_only))

    async def action_quit(self) -> None:
        await self.run_action("app.quit")
