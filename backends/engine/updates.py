"""What a fleet session tells its listeners (the TUI), as typed updates, and the
operations it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from backends.core.errors import BackendError
from backends.core.journal import JournalRecord
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot, Generation
from backends.core.rollout import Rollout

if TYPE_CHECKING:
    from backends.core.events import Event


def describe(error: BaseException) -> tuple[str, str]:
    """(title, one-line message) for the operator: a BackendError's own words, anything
    else as a generic line (the details belong in a bug report, not on screen)."""
    if isinstance(error, BackendError):
        return error.title, error.message
    text = " ".join(str(error).split()) or "no details"
    return "Unexpected error", f"{type(error).__name__}: {text}"


@dataclass(frozen=True, slots=True)
class Done:
    """What a finished operation says, and the generation it made (launch)."""

    text: str
    generation: Generation | None = None


@dataclass(eq=False)
class InFlight:
    """An operation the session runs: ``doing`` is what the status line shows."""

    number: int
    action: str
    doing: str
    task: asyncio.Task[None] = field(repr=False)
    started: float = field(default_factory=lambda: asyncio.get_running_loop().time())
    done: Done | None = None
    error: BaseException | None = None

    @property
    def interrupted(self) -> bool:
        return self.task.cancelled()


# what listeners are told ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SnapshotUpdated:
    snapshot: FleetSnapshot


@dataclass(frozen=True, slots=True)
class EventArrived:
    event: Event


@dataclass(frozen=True, slots=True)
class ProblemChanged:
    """What keeps the session from reading the fleet ("" once it can again)."""

    problem: str


@dataclass(frozen=True, slots=True)
class OperationsChanged:
    """An operation started or ended (``finished``: the one that just ended)."""

    in_flight: tuple[InFlight, ...]
    finished: InFlight | None = None


@dataclass(frozen=True, slots=True)
class OperatorKnown:
    operator: str


@dataclass(frozen=True, slots=True)
class Preparing:
    """Progress while the fleet is prepared (the demo's first launch); "" when ready."""

    text: str


@dataclass(frozen=True, slots=True)
class HistoryRead:
    records: tuple[JournalRecord, ...]


@dataclass(frozen=True, slots=True)
class AttentionChanged:
    """What an operator must know about the fleet beyond its generations: its rollout
    (running, paused, interrupted…), actions interrupted mid-way, who holds its lock."""

    rollout: Rollout | None
    interrupted: tuple[JournalRecord, ...] = ()
    lock: Lease | None = None
    #: who drives the rollout, ``alice (laptop pid 4242)`` ("" no one: it is interrupted
    #: or held) — this Molt, another, or ``molt rollout`` from the command line
    driven_by: str = ""


@dataclass(frozen=True, slots=True)
class RolloutProgress:
    """A line of the rollout this session drives (``step 2/4 · 25% · bake 0:41 …``)."""

    text: str


Update = (
    SnapshotUpdated
    | EventArrived
    | ProblemChanged
    | OperationsChanged
    | OperatorKnown
    | Preparing
    | HistoryRead
    | AttentionChanged
    | RolloutProgress
)
Listener = Callable[[Update], None]
