"""What workers report back to the screen that started them (results as messages)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from backends.journal import JournalRecord
from backends.model import FleetSnapshot, Generation


@dataclass
class SnapshotRead(Message):
    """A fresh, consistent read of the fleet. Only the newest one matters."""

    snapshot: FleetSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotRead)


@dataclass
class OperatorKnown(Message):
    """Who is acting, as the backend knows them (shown in the header)."""

    operator: str


@dataclass
class Progress(Message):
    """A line of progress while the fleet is being prepared (the demo's first launch)."""

    text: str


class Prepared(Message):
    """The fleet is ready: the demo fleet's first generation is live (or nothing to do)."""


@dataclass
class JournalRead(Message):
    """The fleet's journal, to seed the event stream with past operator actions."""

    records: list[JournalRecord]


@dataclass
class OperationDone(Message):
    """A mutation finished: ``text`` says what changed."""

    text: str
    generation: Generation | None = None
