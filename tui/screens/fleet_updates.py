"""The fleet view's feed: what its :class:`~backends.engine.session.FleetSession` says.

The session does all the I/O (reads, the watch loop, the operations in flight); the
screen only listens. Snapshots and events are coalesced: events go to an inbox, only the
newest snapshot is kept, and the screen paints at most 12 times a second however fast
they come. The seldom updates (an operation ended, a problem, who acts) arrive as
messages in the screen's own loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from backends.core.errors import Refused
from backends.core.events import Event
from backends.core.model import FleetSnapshot
from backends.engine.session import FleetSession
from backends.engine.updates import (
    AttentionChanged,
    EventArrived,
    HistoryRead,
    InFlight,
    OperationsChanged,
    OperatorKnown,
    Preparing,
    ProblemChanged,
    RolloutProgress,
    SnapshotUpdated,
    Update,
    describe,
)
from tui.formatting import literal
from tui.messages import SessionChanged
from tui.throttle import Throttle
from tui.widgets.event_log import KEEP

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

PAINTS_PER_SECOND = 12  # with the event log's scroll-range updates: under 20 frames a second


class FleetUpdates(_Base):
    """Mixed into :class:`~tui.screens.fleet.FleetScreen`: listens to its session."""

    session: FleetSession

    def init_updates(self) -> None:
        self._inbox: list[Event] = []
        self._fresh: FleetSnapshot | None = None
        self._paints = Throttle(self, 1 / PAINTS_PER_SECOND, self.paint)
        self._unlisten: Callable[[], None] | None = None
        self._problem = ""
        self.rollout_progress = ""  # the latest line of a rollout this session drives

    # hooks the screen implements ---------------------------------------------------------
    def paint_events(self, events: list[Event]) -> None: ...
    def paint_snapshot(self, snapshot: FleetSnapshot) -> None: ...
    def show_status(self) -> None: ...
    def show_operator(self, operator: str) -> None: ...
    def show_preparing(self, text: str) -> None: ...
    def show_history(self, update: HistoryRead) -> None: ...
    def operation_done(self, operation: InFlight) -> None: ...
    def show_attention(self, update: AttentionChanged) -> None: ...
    def handled_error(self, operation: InFlight) -> bool:
        """Did the screen take care of this failed operation itself (no toast)?"""
        return False

    # following -----------------------------------------------------------------------------
    def follow_session(self) -> None:
        """Listen from now on, show what the session knows already, and start it (once)."""
        self._unlisten = self.session.listen(self._heard)
        if self.session.snapshot is not None:
            self._fresh = self.session.snapshot
            self.paint()
        if self.session.operator:
            self.show_operator(self.session.operator)
        self.show_attention(self.session.seen)
        self.show_status()
        self.session.start()

    def stop_following(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self._paints.cancel()

    def _heard(self, update: Update) -> None:
        """Called in the session's task: keep it short, paint later in our own loop."""
        if isinstance(update, EventArrived):
            self._inbox.append(update.event)
            self._paints.touch()
        elif isinstance(update, SnapshotUpdated):
            self._fresh = update.snapshot
            self._paints.touch()
        else:
            self.post_message(SessionChanged(update))

    def paint(self) -> None:
        """Apply what arrived since the last paint (called at most 12 times a second).
        A fleet whose view is not on screen (the operator switched to another) keeps
        its news until it shows again."""
        if self not in self.app.screen_stack:
            del self._inbox[:-KEEP]
            return
        if self._inbox:
            events, self._inbox = self._inbox, []
            self.paint_events(events)
        if self._fresh is not None:
            snapshot, self._fresh = self._fresh, None
            self.paint_snapshot(snapshot)

    def on_screen_resume(self) -> None:
        if self._inbox or self._fresh is not None:
            self._paints.touch()
        self.show_status()

    # a plain mixin: Textual finds handlers here by name (``@on`` needs a Textual class)
    def on_session_changed(self, message: SessionChanged) -> None:
        update = message.update
        if isinstance(update, OperatorKnown):
            self.show_operator(update.operator)
        elif isinstance(update, Preparing):
            self.show_preparing(update.text)
        elif isinstance(update, HistoryRead):
            self.show_history(update)
        elif isinstance(update, AttentionChanged):
            self.show_attention(update)
        elif isinstance(update, RolloutProgress):
            self.rollout_progress = update.text
            self.show_status()
        elif isinstance(update, OperationsChanged):
            if update.finished is not None:
                self._ended(update.finished)
            self.show_status()
        elif isinstance(update, ProblemChanged):
            if update.problem and not self._problem:  # the status line keeps it after
                self.notify(literal(update.problem), severity="error", timeout=8, markup=False)
            self._problem = update.problem
            self.show_status()

    def _ended(self, operation: InFlight) -> None:
        """Say how an operation ended (even while another fleet is on screen)."""
        if operation.interrupted:
            return
        where = "" if self in self.app.screen_stack else f" · {self.session.name}"
        if operation.error is not None:
            if self.handled_error(operation):
                return
            title, text = describe(operation.error)
            refused = isinstance(operation.error, Refused)  # Locked names who holds the fleet
            severity: SeverityLevel = "warning" if refused else "error"
            self.notify(
                literal(text), title=title + where, severity=severity, timeout=10, markup=False
            )
        elif operation.done is not None:
            done = literal(operation.done.text)
            self.notify(done, title="Done" + where, timeout=4, markup=False)
            self.operation_done(operation)
