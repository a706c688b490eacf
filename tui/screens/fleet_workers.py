"""The fleet view's I/O: every backend call runs in a worker, results come back as
messages, and every worker's end lands in one handler that shows failures (title and
message, never a traceback) and retries reads.

Coalescing: events from ``watch()`` go to an inbox; the screen paints at most 20 times
a second and re-reads the snapshot at most 10 times a second, however fast they come.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from backends.base import Backend
from backends.config import FleetConfig
from backends.errors import BackendError, Refused
from backends.model import Event, FleetSnapshot
from backends.operations import Operations
from backends.session import prepare_fleet
from tui.messages import JournalRead, OperationDone, OperatorKnown, Prepared, Progress, SnapshotRead
from tui.throttle import Throttle

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

PAINTS_PER_SECOND = 12  # with the event log's scroll-range updates: under 20 frames a second
READS_PER_SECOND = 10
RETRY_MAX = 10.0  # seconds between retries of a failing read, at most


def describe(error: BaseException) -> tuple[str, str]:
    """(title, one-line message) for the operator: a BackendError's own words, anything
    else as a generic line (the details belong in a bug report, not on screen)."""
    if isinstance(error, BackendError):
        return error.title, error.message
    text = " ".join(str(error).split()) or "no details"
    return "Unexpected error", f"{type(error).__name__}: {text}"


class FleetWorkers(_Base):
    """Mixed into :class:`~tui.screens.fleet.FleetScreen`: reads, follows and acts."""

    fleet: FleetConfig
    backend: Backend
    ops: Operations
    state_dir: Path

    def init_workers(self) -> None:
        self._inbox: list[Event] = []
        self._started = False
        self._fresh: FleetSnapshot | None = None
        self._reading = False
        self._read_again = False
        self._failures: dict[str, int] = {}
        self._problems: dict[str, str] = {}
        self._retries: dict[str, Timer] = {}
        self._activities: dict[Worker[object], str] = {}
        self._paints = Throttle(self, 1 / PAINTS_PER_SECOND, self.paint)
        self._reads = Throttle(self, 1 / READS_PER_SECOND, self._read_now)

    # hooks the screen implements ---------------------------------------------------------
    def paint_events(self, events: list[Event]) -> None: ...
    def paint_snapshot(self, snapshot: FleetSnapshot) -> None: ...
    def show_status(self, *, activity: str, problem: str) -> None: ...

    # starting ------------------------------------------------------------------------------
    @work(exclusive=True, group="session", exit_on_error=False)
    async def start_session(self) -> None:
        """Who acts, a first read, then follow events and prepare the fleet (the demo
        fleet launches its first generation here, with progress on screen)."""
        self.post_message(OperatorKnown(await self.ops.operator()))
        self.post_message(SnapshotRead(await self.backend.snapshot(self.fleet.name)))
        if not self._started:  # a retried start: events and journal retry on their own
            self._started = True
            self.follow_events()
            self.seed_journal()

        def progress(text: str) -> None:
            self.post_message(Progress(text))

        await prepare_fleet(
            self.fleet, self.backend, self.ops, state_dir=self.state_dir, progress=progress
        )
        self.post_message(Prepared())

    @work(exclusive=True, group="journal", exit_on_error=False)
    async def seed_journal(self) -> None:
        self.post_message(JournalRead(await self.backend.journal.records(self.fleet.name)))

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def follow_events(self) -> None:
        async for event in self.backend.watch(self.fleet.name):
            self._inbox.append(event)
            self._paints.touch()

    # reading -------------------------------------------------------------------------------
    def request_read(self) -> None:
        """Re-read the fleet soon (at most 10 times a second, never two reads at once)."""
        self._reads.touch()

    def _read_now(self) -> None:
        if "read" in self._retries:
            return  # failing: the retry timer reads next, not every event that arrives
        if self._reading:
            self._read_again = True
            return
        self._reading = True
        self.read_fleet()

    @work(exclusive=True, group="read", exit_on_error=False)
    async def read_fleet(self) -> None:
        self.post_message(SnapshotRead(await self.backend.snapshot(self.fleet.name)))

    def on_snapshot_read(self, message: SnapshotRead) -> None:
        self._fresh = message.snapshot
        self._clear_problem("read")
        self._paints.touch()

    def paint(self) -> None:
        """Apply what arrived since the last paint (called at most 20 times a second)."""
        if self._inbox:
            events, self._inbox = self._inbox, []
            self.paint_events(events)
            self._clear_problem("watch")
            self.request_read()
        if self._fresh is not None:
            snapshot, self._fresh = self._fresh, None
            self.paint_snapshot(snapshot)

    # acting --------------------------------------------------------------------------------
    def run_operation(self, doing: str, operation: Callable[[], Awaitable[OperationDone]]) -> None:
        """Run a mutation (through :class:`Operations`) with ``doing`` on the status line."""
        worker = self._operate(operation)
        self._activities[worker] = doing
        self._update_status()

    # not exclusive: a shift must never cancel a retire that is half-way through its drain
    @work(group="mutate", exit_on_error=False)
    async def _operate(self, operation: Callable[[], Awaitable[OperationDone]]) -> None:
        self.post_message(await operation())

    # the one handler for every worker's end ------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "read":
            self._reading = False
            if self._read_again:
                self._read_again = False
                self.request_read()
        if worker.group == "mutate":
            self._activities.pop(worker, None)
            self._update_status()
            self.request_read()
        if state is WorkerState.ERROR and worker.error is not None:
            self._failed(worker.group, worker.error)
        elif state is WorkerState.SUCCESS and worker.group in ("session", "journal"):
            self._clear_problem(worker.group)
        elif state is WorkerState.SUCCESS and worker.group == "watch":
            self._failed("watch", BackendError("the event stream ended", title="Events"))

    def _failed(self, group: str, error: BaseException) -> None:
        title, message = describe(error)
        if group == "mutate":  # the operator asked for it: say why it did not happen
            severity: SeverityLevel = "warning" if isinstance(error, Refused) else "error"
            self.notify(message, title=title, severity=severity, timeout=10)
            return
        failures = self._failures[group] = self._failures.get(group, 0) + 1
        delay = min(RETRY_MAX, 0.5 * 2**failures)
        if group not in self._retries:
            self._retries[group] = self.set_timer(
                delay, lambda: self._retry(group), name=f"retry {group}"
            )
        self._problems[group] = f"{title}: {message} — retrying in {delay:.0f} s"
        if failures == 1:
            self.notify(message, title=title, severity="error", timeout=8)
        self._update_status()

    def _retry(self, group: str) -> None:
        self._retries.pop(group, None)
        again = {
            "read": "request_read",
            "watch": "follow_events",
            "session": "start_session",
            "journal": "seed_journal",
        }[group]
        getattr(self, again)()

    def _clear_problem(self, group: str) -> None:
        self._failures.pop(group, None)
        if self._problems.pop(group, None) is not None:
            self._update_status()

    def _update_status(self) -> None:
        activity = ", ".join(dict.fromkeys(self._activities.values()))
        self.show_status(activity=activity, problem="; ".join(self._problems.values()))
