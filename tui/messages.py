"""What a fleet session says, as Textual messages: one class per kind of update.

The App is the one listener of every session (:mod:`tui.session_bridge`); it posts these
to the screens that render that session, which handle the ones they need with ``@on``.
Each is handled in the screen's own message loop, never inside the session's task.
Snapshots and events come often: the bridge batches them (at most ``PAINTS_PER_SECOND``
a second) and a newer snapshot replaces one not handled yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from backends.core.events import Event
from backends.core.journal import JournalRecord
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot
from backends.core.rollout import Rollout
from backends.engine import updates
from backends.engine.session import FleetSession
from backends.engine.updates import InFlight


@dataclass
class SessionMessage(Message, bubble=False):
    """From one session (screens of other sessions never get it)."""

    session: FleetSession


@dataclass
class SnapshotRead(SessionMessage):
    """The fleet as last read (only the newest waits to be handled)."""

    snapshot: FleetSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotRead) and message.session is self.session


@dataclass
class EventsArrived(SessionMessage):
    """The events since the last batch, oldest first."""

    events: list[Event]


@dataclass
class ProblemChanged(SessionMessage):
    """What keeps the session from reading the fleet ("" once it can again)."""

    problem: str


@dataclass
class OperationsChanged(SessionMessage):
    """An operation started or ended (``finished``: the one that just ended)."""

    in_flight: tuple[InFlight, ...]
    finished: InFlight | None


@dataclass
class OperatorKnown(SessionMessage):
    """Who acts in this session."""

    operator: str


@dataclass
class PreparingChanged(SessionMessage):
    """Progress while the fleet is prepared (the demo's first launch); "" when ready."""

    text: str


@dataclass
class HistoryRead(SessionMessage):
    """The journal as read at start."""

    records: tuple[JournalRecord, ...]


@dataclass
class AttentionChanged(SessionMessage):
    """The fleet's rollout, actions interrupted mid-way, who holds its lock."""

    rollout: Rollout | None
    interrupted: tuple[JournalRecord, ...]
    lock: Lease | None
    driven_by: str = ""  # who drives the rollout ("" no one)


@dataclass
class RolloutProgress(SessionMessage):
    """A line of the rollout this session drives."""

    text: str


def seldom(session: FleetSession, update: updates.Update) -> SessionMessage | None:
    """The message for one of the session's seldom updates (None: snapshots and events,
    which the bridge batches)."""
    match update:
        case updates.ProblemChanged(problem):
            return ProblemChanged(session, problem)
        case updates.OperationsChanged(in_flight, finished):
            return OperationsChanged(session, in_flight, finished)
        case updates.OperatorKnown(operator):
            return OperatorKnown(session, operator)
        case updates.Preparing(text):
            return PreparingChanged(session, text)
        case updates.HistoryRead(records):
            return HistoryRead(session, records)
        case updates.AttentionChanged(rollout, interrupted, lock, driven_by):
            return AttentionChanged(session, rollout, interrupted, lock, driven_by)
        case updates.RolloutProgress(text):
            return RolloutProgress(session, text)
    return None
