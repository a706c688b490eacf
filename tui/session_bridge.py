"""The one bridge from fleet sessions to the screens: the App listens to each session
and posts :mod:`tui.messages` to the screens that render it.

The session calls its listeners in its own task, so hearing an update is kept short:
seldom ones become a message at once; snapshots and events wait in a per-session batch
that is posted at most ``PAINTS_PER_SECOND`` times a second, however fast they come.
While another fleet is on screen the batch waits (the newest snapshot, the latest
events) until its fleet shows again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from textual.app import App
from textual.screen import Screen

from backends.core.events import Event
from backends.core.model import FleetSnapshot
from backends.engine import updates
from backends.engine.session import FleetSession
from tui.messages import EventsArrived, SessionMessage, SnapshotRead, seldom
from tui.throttle import Throttle
from tui.widgets.event_log import KEEP

PAINTS_PER_SECOND = 12  # with the event log's scroll-range updates: under 20 frames a second


@runtime_checkable
class RendersSession(Protocol):
    """A screen that shows one session (the fleet view, inspect, timeline, logs)."""

    session: FleetSession


@dataclass
class _Batch:
    """What came since the last post, for one session."""

    throttle: Throttle
    events: list[Event] = field(default_factory=list)
    snapshot: FleetSnapshot | None = None
    unlisten: Callable[[], None] = lambda: None


class SessionBridge:
    """Owned by the App: ``follow`` a session once, when it opens.

    Args:
        app: posts in its loop, and knows the screen stack.
        standing: the screens that hear their session even while not on the stack
            (each fleet's own view: its toasts name the fleet while another is shown).
    """

    def __init__(self, app: App[None], standing: Callable[[], Iterable[Screen[None]]]) -> None:
        self.app = app
        self.standing = standing
        self._batches: dict[int, _Batch] = {}

    def follow(self, session: FleetSession) -> None:
        batch = _Batch(Throttle(self.app, 1 / PAINTS_PER_SECOND, lambda: self._flush(session)))
        self._batches[id(session)] = batch
        batch.unlisten = session.listen(lambda update: self._heard(session, batch, update))

    def resume(self, session: FleetSession) -> None:
        """``session``'s fleet is on screen again: what waited is posted now."""
        batch = self._batches.get(id(session))
        if batch is not None and (batch.events or batch.snapshot is not None):
            batch.throttle.touch()

    def stop(self) -> None:
        for batch in self._batches.values():
            batch.unlisten()
            batch.throttle.cancel()
        self._batches.clear()

    def _heard(self, session: FleetSession, batch: _Batch, update: updates.Update) -> None:
        """Called in the session's task: keep it short, post in the App's loop."""
        if isinstance(update, updates.EventArrived):
            batch.events.append(update.event)
            batch.throttle.touch()
        elif isinstance(update, updates.SnapshotUpdated):
            batch.snapshot = update.snapshot
            batch.throttle.touch()
        else:
            self._post(session, lambda: seldom(session, update))

    def _flush(self, session: FleetSession) -> None:
        batch = self._batches.get(id(session))
        if batch is None:
            return
        if not self.shown(session):  # another fleet is on screen: it waits for `resume`
            del batch.events[:-KEEP]
            return
        if batch.events:
            events, batch.events = batch.events, []
            self._post(session, lambda: EventsArrived(session, list(events)))
        if batch.snapshot is not None:
            snapshot, batch.snapshot = batch.snapshot, None
            self._post(session, lambda: SnapshotRead(session, snapshot))

    def shown(self, session: FleetSession) -> bool:
        return any(s in self.app.screen_stack for s in self.screens_of(session))

    def _post(self, session: FleetSession, make: Callable[[], SessionMessage | None]) -> None:
        """A message of its own to each screen (a message is handled once)."""
        for screen in self.screens_of(session):
            message = make()
            if message is not None:
                screen.post_message(message)

    def screens_of(self, session: FleetSession) -> list[Screen[None]]:
        """The screens rendering ``session``: its own fleet view, and any on the stack."""
        found: dict[int, Screen[None]] = {}
        for screen in [*self.standing(), *self.app.screen_stack]:
            if isinstance(screen, RendersSession) and screen.session is session:
                found[id(screen)] = screen
        return list(found.values())
