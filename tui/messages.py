"""What a fleet session tells the screen that renders it, as Textual messages, so each
update is handled in the screen's own message loop (not inside the session's task)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from backends.engine.updates import (
    AttentionChanged,
    HistoryRead,
    OperationsChanged,
    OperatorKnown,
    Preparing,
    ProblemChanged,
    RolloutProgress,
)

#: the session's updates that come seldom; snapshots and events are batched per frame
SessionNews = (
    HistoryRead
    | OperationsChanged
    | OperatorKnown
    | Preparing
    | ProblemChanged
    | AttentionChanged
    | RolloutProgress
)


@dataclass
class SessionChanged(Message, bubble=False):
    """One of the session's seldom updates (who acts, an operation started or ended, a
    problem, the demo's preparation, the journal read at start, the fleet's rollout,
    interrupted actions and lock, a line of the rollout this session drives)."""

    update: SessionNews
