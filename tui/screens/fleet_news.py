"""What the fleet view says of its session beyond the generations: the status line
(operations in flight and for how long, the demo's preparation, a read problem), the
attention bar (interrupted actions, the lock holder, tainted and old generations), the
toasts of operations ending and of problems starting, and which journal records the
event log shows already."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import tzinfo

from rich.text import Text
from textual.notifications import SeverityLevel

from backends.core.errors import Refused
from backends.core.events import Event, EventKind, OperatorAction
from backends.core.journal import JournalRecord
from backends.engine import updates
from backends.engine.updates import InFlight, describe
from tui import messages
from tui.formatting import literal, record_event
from tui.rollout_view import active
from tui.screens.fleet_view import FleetView
from tui.widgets.attention import AttentionBar, attention_lines, rollout_lines
from tui.widgets.status import StatusLine

Attention = messages.AttentionChanged | updates.AttentionChanged  # as posted, or as read
JOURNAL_SEED = 500  # past actions shown at start; `molt history` has them all


class FleetNews:
    """The fleet view's part that keeps its status line and says how operations end.

    Args:
        view: the fleet view.
        status: its status line (asked for each time: it exists once composed).
    """

    def __init__(
        self,
        view: FleetView,
        status: Callable[[], StatusLine],
        attention: Callable[[], AttentionBar],
        tz: tzinfo | None,
    ) -> None:
        self.view, self.status, self.attention, self.tz = view, status, attention, tz
        self.problem = ""
        self.rollout_progress = ""  # the latest line of a rollout this session drives
        self._attention: list[Text] = []  # interrupted actions and the lock holder
        self._taint: list[Text] = []  # tainted generations, and those due a rebuild
        self._seen_actions: set[tuple[str, str]] = set()  # journal records shown

    def show_attention(self, seen: Attention) -> None:
        """The fleet's rollout, interrupted actions and the lock holder (not while this
        session acts: the lock is ours then)."""
        session = self.view.session
        lock = seen.lock if not session.in_flight else None
        rollout = seen.rollout if active(seen.rollout) else None
        here = any(o.action == "rollout" for o in session.in_flight)  # this session drives it
        self._attention = [
            *rollout_lines(rollout, seen.driven_by, can_act=not session.read_only, here=here),
            *attention_lines(session.name, seen.interrupted, lock, self.tz),
        ]
        self.attention().show_lines([*self._attention, *self._taint])

    def show_taint(self, taint: list[Text]) -> None:
        if taint != self._taint:
            self._taint = taint
            self.attention().show_lines([*self._attention, *self._taint])

    def saw(self, events: list[Event]) -> None:
        """Events about to be shown: their journal records are not shown again."""
        self._seen_actions.update(_action_key(e) for e in events if e.kind is EventKind.ACTION)

    def history(self, records: Sequence[JournalRecord]) -> list[Event]:
        """The journal read at start, as events: those not shown already."""
        past = [record_event(r) for r in records[-JOURNAL_SEED:]]
        fresh: list[Event] = [e for e in past if _action_key(e) not in self._seen_actions]
        self._seen_actions.update(_action_key(e) for e in fresh)
        return fresh

    def show_status(self) -> None:
        session = self.view.session
        now = asyncio.get_running_loop().time()
        operations = session.in_flight
        if not any(o.action == "rollout" for o in operations):
            self.rollout_progress = ""
        doing = [_doing(o, now, self.rollout_progress) for o in operations]
        status = self.status()
        status.activity = ", ".join(t for t in (session.preparing, *dict.fromkeys(doing)) if t)
        status.problem = literal(session.problem)

    def progress(self, text: str) -> None:
        self.rollout_progress = text
        self.show_status()

    def problem_changed(self, problem: str) -> None:
        if problem and not self.problem:  # the status line keeps it after
            self.view.app.notify(literal(problem), severity="error", timeout=8, markup=False)
        self.problem = problem
        self.show_status()

    def ended(self, operation: InFlight, took_failure: Callable[[InFlight], bool]) -> None:
        """Say how an operation ended (even while another fleet is on screen), unless
        the view took care of its failure itself (``took_failure``)."""
        if operation.interrupted:
            return
        app = self.view.app
        where = "" if self.view.on_stack() else f" · {self.view.session.name}"
        if operation.error is not None:
            if took_failure(operation):
                return
            title, text = describe(operation.error)
            refused = isinstance(operation.error, Refused)  # Locked names who holds the fleet
            severity: SeverityLevel = "warning" if refused else "error"
            app.notify(
                literal(text), title=title + where, severity=severity, timeout=10, markup=False
            )
        elif operation.done is not None:
            done = literal(operation.done.text)
            app.notify(done, title="Done" + where, timeout=4, markup=False)


def _doing(operation: InFlight, now: float, rollout_progress: str = "") -> str:
    """``retiring g3 (draining) · 12 s``: what an operation does, and for how long (a
    rollout this session drives: its latest line, checks with their values)."""
    seconds = now - operation.started
    doing = f"{operation.doing} · {seconds:.0f} s" if seconds >= 1 else operation.doing
    if operation.action == "rollout" and rollout_progress:
        doing += f" — {literal(rollout_progress)}"
    return doing


def _action_key(event: Event) -> tuple[str, str]:
    """One journal record's outcome, shown once whether it streamed in or was read."""
    if isinstance(event, OperatorAction):
        return event.record.id, event.record.outcome.value
    return "", event.text()
