"""The fleet view: generations side by side above the live event stream.

It renders one :class:`~backends.engine.session.FleetSession` and sends it intents; the
session, not the screen, owns the reads and the operations in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input

from backends.config.fleet_config import FleetConfig
from backends.core.events import Event, EventKind, OperatorAction
from backends.core.model import FleetSnapshot
from backends.core.rollout import Rollout
from backends.engine.session import FleetSession
from backends.engine.updates import AttentionChanged, HistoryRead, InFlight
from tui.commands import OffersCommands, fleet_commands
from tui.formatting import difference_line, literal, record_event, staged_text
from tui.modals.fleet_picker import FleetPicker
from tui.modals.help import HelpModal
from tui.screens.fleet_incident import FleetIncident, taint_lines
from tui.screens.fleet_keys import KEYS, MUTATING, help_rows
from tui.screens.fleet_rollouts import FleetRollouts
from tui.screens.inspect import InspectScreen
from tui.staging import still_applies
from tui.widgets.attention import AttentionBar, attention_lines
from tui.widgets.event_log import EventLog
from tui.widgets.generation import GenerationColumn
from tui.widgets.generations import GenerationStrip
from tui.widgets.header import FleetHeader
from tui.widgets.status import StatusLine

JOURNAL_SEED = 500  # past actions shown at start; `molt history` has them all


class FleetScreen(OffersCommands, FleetRollouts, FleetIncident, Screen[None]):
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
        self._follow_launch: str | None = None  # select this generation once it shows
        self._binding_state: tuple[object, ...] = ()
        self._seen_actions: set[tuple[str, str]] = set()  # journal records shown: (id, outcome)
        self.staged_on: FleetSnapshot | None = None
        self.sent_staged: dict[int, tuple[dict[str, int], FleetSnapshot]] = {}
        self._attention: list[Text] = []  # interrupted actions and the lock holder
        self._taint: list[Text] = []  # tainted generations, and those due a rebuild
        self.init_updates()
        self.init_incident(clock())

    @property
    def preparing(self) -> str:
        """Progress of the fleet's preparation (the demo's first launch), "" when ready."""
        return self.session.preparing

    @property
    def fleet_names(self) -> list[str]:
        return [f.name for f in self.fleets]

    def compose(self) -> ComposeResult:
        header = FleetHeader()
        header.show_session(self.session)
        yield header
        yield GenerationStrip(self.clock).data_bind(
            FleetScreen.snapshot, FleetScreen.selected, FleetScreen.staged, FleetScreen.rollout
        )
        yield AttentionBar()
        yield StatusLine()
        with Vertical(id="events"):
            yield EventLog(self.tz).data_bind(highlight=FleetScreen.selected)
            yield Input(
                placeholder="filter: text, g3, g3-1 — enter keeps it, escape clears", id="filter"
            )
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p: in `?` help

    def on_mount(self) -> None:
        self.query_one("#events").border_title = "events"
        self.query_one(GenerationStrip).placeholder = "reading the fleet…"
        self.set_interval(1.0, self._refresh_ages, name="ages")
        self.follow_session()

    def on_unmount(self) -> None:
        self.stop_following()  # the session lives on: the App closes it on the way out

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
            "fleets": len(self.fleets) > 1,
            **self.rollout_rules(),
            **self.incident_rules(),
        }
        return rules.get(action, True)

    # painting (called by the feed's throttle) -----------------------------------------------
    def paint_events(self, events: list[Event]) -> None:
        for event in events:
            if event.kind is EventKind.ACTION:
                self._seen_actions.add(_action_key(event))
        self.note_events(events)
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
        taint = taint_lines(snapshot, self.fleet.max_age, self.clock())
        if taint != self._taint:
            self._taint = taint
            self._show_attention_lines()
        if self.staged is not None:  # what it would change now, and whether it is stale
            self.watch_staged(self.staged)
        self._refresh_footer()
        self.query_one(GenerationStrip).placeholder = self._placeholder()

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
            self.rollout.state if self.rollout is not None else None,
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def watch_selected(self) -> None:
        self._refresh_footer()

    def watch_filtering(self) -> None:
        self._refresh_footer()

    def watch_rollout(self) -> None:
        self._refresh_footer()

    def _placeholder(self) -> str:
        if self.preparing:
            return self.preparing
        if self.read_only:
            return "no generations yet"
        return "no generations yet — press n to launch one"

    def show_status(self) -> None:
        status = self.query_one(StatusLine)
        now = asyncio.get_running_loop().time()
        operations = self.session.in_flight
        if not any(o.action == "rollout" for o in operations):
            self.rollout_progress = ""
        doing = [_doing(o, now, self.rollout_progress) for o in operations]
        status.activity = ", ".join(t for t in (self.preparing, *dict.fromkeys(doing)) if t)
        status.problem = literal(self.session.problem)

    def watch_staged(self, staged: dict[str, int] | None) -> None:
        text = staged_text(self.snapshot.weights, staged) if staged and self.snapshot else ""
        on = self.staged_on
        if text and on is not None and self.snapshot and on.revision != self.snapshot.revision:
            text += "   (the fleet changed since: enter asks again)"
        self.query_one(StatusLine).staged = text
        self._refresh_footer()

    def _refresh_ages(self) -> None:
        self.query_one(GenerationStrip).refresh_ages()
        if self.session.in_flight:  # how long it has been running
            self.show_status()

    # what the session says ------------------------------------------------------------------
    def show_operator(self, operator: str) -> None:
        self.query_one(FleetHeader).operator = operator

    def show_attention(self, update: AttentionChanged) -> None:
        """The fleet's rollout (to its columns), interrupted actions and the lock holder."""
        self.rollout = update.rollout
        lock = update.lock if not self.session.in_flight else None  # ours while we act
        self._attention = attention_lines(self.session.name, update.interrupted, lock, self.tz)
        self._show_attention_lines()

    def _show_attention_lines(self) -> None:
        self.query_one(AttentionBar).show_lines([*self._attention, *self._taint])

    def show_preparing(self, text: str) -> None:
        self.query_one(GenerationStrip).placeholder = self._placeholder()
        self.show_status()

    def show_history(self, update: HistoryRead) -> None:
        past = [record_event(r) for r in update.records[-JOURNAL_SEED:]]
        fresh = [e for e in past if _action_key(e) not in self._seen_actions]
        self._seen_actions.update(_action_key(e) for e in fresh)
        self.query_one(EventLog).add_events(fresh, in_order=True)

    def operation_done(self, operation: InFlight) -> None:
        if operation.done is not None and operation.done.generation is not None:
            self._follow_launch = operation.done.generation.id

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
            inspect = InspectScreen(self.session, target.id, clock=self.clock, tz=self.tz)
            self.app.push_screen(inspect)

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
        self.app.push_screen(FleetPicker(self.fleets, self.fleet.name), self._fleet_chosen)

    def _fleet_chosen(self, name: str | None) -> None:
        if name and name != self.fleet.name:
            self.call_later(self.run_action, f"app.open_fleet('{name}')")

    def action_help(self) -> None:
        self.app.push_screen(HelpModal(self.help_rows(), self.read_only))

    def help_rows(self) -> list[tuple[str, str, str]]:
        return help_rows(self.read_only)

    async def action_quit(self) -> None:
        await self.run_action("app.quit")

    def allowed(self, action: str, *parameters: Any) -> bool:
        return bool(self.check_action(action, parameters))

    def palette_commands(self) -> list[tuple[str, str, str]]:
        return fleet_commands(self)


def _action_key(event: Event) -> tuple[str, str]:
    """One journal record's outcome, shown once whether it streamed in or was read."""
    if isinstance(event, OperatorAction):
        return event.record.id, event.record.outcome.value
    return "", event.text()


def _doing(operation: InFlight, now: float, rollout_progress: str = "") -> str:
    """``retiring g3 (draining) · 12 s``: what an operation does, and for how long (a
    rollout this session drives: its latest line, checks with their values)."""
    seconds = now - operation.started
    doing = f"{operation.doing} · {seconds:.0f} s" if seconds >= 1 else operation.doing
    if operation.action == "rollout" and rollout_progress:
        doing += f" — {literal(rollout_progress)}"
    return doing
