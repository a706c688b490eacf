"""A fleet session: one open fleet, for the TUI and the CLI alike.

It owns the fleet's backend (read-only or not, fixed when it is opened), its guarded
:class:`~backends.operations.Operations`, the reads and the watch loop, and the
operations in flight. A screen renders a session and sends it intents; an operation
belongs to the session, so switching screen or fleet never cancels it. Closing a
session either waits for its operations or interrupts them — and then the journal says
``interrupted``, never a dangling *started*.

Listeners get typed updates (:data:`Update`) in the event loop's thread, as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from backends import registry
from backends.base import Backend
from backends.deadline import Deadline
from backends.errors import BackendError, OperationFailed, Unreachable
from backends.events import Event, ReadError, SnapshotTaken
from backends.fleets import FleetConfig
from backends.journal import JournalRecord, Outcome
from backends.model import (
    FleetSnapshot,
    Generation,
    GenerationSpec,
    GenerationState,
    Health,
    Lifecycle,
)
from backends.operations import Operations

BOOTSTRAP_TIMEOUT = 60.0
DEGRADED_GRACE = 15.0  # a generation degraded with nothing pending this long has settled
READ_GAP = 0.1  # at most 10 reads a second, however fast events arrive
RETRY_MAX = 10.0


class Opener(Protocol):
    def __call__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool) -> Backend: ...


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


Update = (
    SnapshotUpdated
    | EventArrived
    | ProblemChanged
    | OperationsChanged
    | OperatorKnown
    | Preparing
    | HistoryRead
)
Listener = Callable[[Update], None]


class _Backoff:
    def __init__(self) -> None:
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return float(min(RETRY_MAX, 0.5 * 2**self.failures))

    def reset(self) -> None:
        self.failures = 0


class FleetSession:
    """One open fleet. ``start()`` begins following it (reads, events, the demo's
    first launch); the CLI may use a session without starting it."""

    def __init__(
        self,
        fleet: FleetConfig,
        state_dir: Path,
        *,
        read_only: bool = False,
        opener: Opener | None = None,
    ) -> None:
        open_backend: Opener = opener or registry.open_backend
        self.fleet = fleet
        self.state_dir = state_dir
        self.backend = open_backend(fleet, state_dir, read_only=read_only)
        self.ops = Operations(self.backend)
        self.driver = registry.describe(fleet.backend)
        self.snapshot: FleetSnapshot | None = None
        self.operator = ""
        self.preparing = ""
        self.in_flight: list[InFlight] = []
        self._problems: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = asyncio.Event()
        self._numbers = 0
        self._started = False

    @classmethod
    def around(cls, backend: Backend) -> FleetSession:
        """A session on a backend that is already open (tests and tools)."""

        def opened(fleet: FleetConfig, state_dir: Path, *, read_only: bool) -> Backend:
            return backend

        return cls(backend.config, backend.state_dir, read_only=backend.read_only, opener=opened)

    @property
    def name(self) -> str:
        return self.fleet.name

    @property
    def read_only(self) -> bool:
        return self.backend.read_only

    @property
    def problem(self) -> str:
        return "; ".join(self._problems.values())

    # listening -------------------------------------------------------------------------
    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every update from now on; returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _tell(self, update: Update) -> None:
        for listener in list(self._listeners):
            listener(update)

    # following the fleet -----------------------------------------------------------------
    def start(self) -> None:
        """Read the fleet, follow its events, prepare it — in the background."""
        if self._started:
            return
        self._started = True
        self._spawn(self._begin())
        self._spawn(self._reader())

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _begin(self) -> None:
        backoff = _Backoff()
        while True:
            try:
                self.operator = await self.ops.operator()
                self._tell(OperatorKnown(self.operator))
                if not self.backend.hands_over_snapshots:
                    await self.read()
                break
            except Exception as error:
                await self._failed("read", error, backoff)
        self._spawn(self._follow())
        self._spawn(self._seed_history())
        try:
            await self.prepare(lambda text: self._preparing(text))
        except Exception as error:  # shown; the fleet is usable anyway
            title, message = describe(error)
            self._set_problem("prepare", f"{title}: {message}")
        finally:
            self._preparing("")

    def _preparing(self, text: str) -> None:
        self.preparing = text
        self._tell(Preparing(text))
        if not text:
            self.request_read()

    async def _follow(self) -> None:
        backoff = _Backoff()
        while True:
            try:
                async for event in self.backend.watch():
                    backoff.reset()
                    self._arrived(event)
                raise Unreachable("the event stream ended")
            except Exception as error:
                await self._failed("watch", error, backoff)

    async def _seed_history(self) -> None:
        backoff = _Backoff()
        while True:
            try:
                records = await self.backend.journal.records(self.name)
            except Exception as error:
                await self._failed("history", error, backoff)
                continue
            self._clear("history")
            self._tell(HistoryRead(tuple(records)))
            return

    def _arrived(self, event: Event) -> None:
        if isinstance(event, SnapshotTaken):
            self._clear("watch")
            self._take(event.snapshot)
            return
        if isinstance(event, ReadError) and not event.source:
            if event.cleared:
                self._clear("watch")
            else:
                self._set_problem("watch", f"{event.title}: {event.message}")
        else:
            self._clear("watch")
        self._tell(EventArrived(event))
        if not self.backend.hands_over_snapshots:
            self.request_read()

    def request_read(self) -> None:
        """Read the fleet again soon (at most 10 times a second, one read at a time)."""
        self._dirty.set()

    async def _reader(self) -> None:
        backoff = _Backoff()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.read()
                backoff.reset()
            except Exception as error:
                await self._failed("read", error, backoff)
                self._dirty.set()
            await asyncio.sleep(READ_GAP)

    async def read(self) -> FleetSnapshot:
        """Read the fleet now; listeners see the result."""
        snapshot = await self.backend.snapshot()
        self._clear("read")
        self._take(snapshot)
        return snapshot

    def _take(self, snapshot: FleetSnapshot) -> None:
        self.snapshot = snapshot
        self._tell(SnapshotUpdated(snapshot))

    async def _failed(self, what: str, error: BaseException, backoff: _Backoff) -> None:
        title, message = describe(error)
        delay = backoff.next()
        self._set_problem(what, f"{title}: {message} — retrying in {delay:.0f} s")
        await asyncio.sleep(delay)

    def _set_problem(self, what: str, text: str) -> None:
        if self._problems.get(what) != text:
            self._problems[what] = text
            self._tell(ProblemChanged(self.problem))

    def _clear(self, what: str) -> None:
        if self._problems.pop(what, None) is not None:
            self._tell(ProblemChanged(self.problem))

    # intents -----------------------------------------------------------------------------
    def launch(self, spec: GenerationSpec) -> InFlight:
        async def work() -> Done:
            generation = await self.ops.launch(spec)
            text = f"{generation.id} launched: {generation.version} × {generation.count}"
            return Done(text, generation)

        return self.run("launch", f"launching {spec.version}", work)

    def shift(
        self, weights: Mapping[str, int], *, was: str = "", expected: str | None = None
    ) -> InFlight:
        """``expected``: the fleet revision the shift was staged against (a staged shift
        is applied only if nothing changed since; else :class:`Stale`)."""

        async def work() -> Done:
            applied = await self.ops.shift(weights, expected=expected)
            return Done(f"shifted: {_weights(applied)}" + (f" ({was})" if was else ""))

        return self.run("shift", f"shifting {_weights(weights)}", work)

    def promote(self, generation: str) -> InFlight:
        async def work() -> Done:
            weights = await self.ops.promote(generation)
            return Done(f"{generation} promoted: {_weights(weights)}")

        return self.run("promote", f"promoting {generation}", work)

    def rollback(self) -> InFlight:
        async def work() -> Done:
            return Done(f"rolled back: {_weights(await self.ops.rollback())}")

        return self.run("rollback", "rolling back", work)

    def retire(self, generation: str) -> InFlight:
        async def work() -> Done:
            await self.ops.retire(generation)
            return Done(f"{generation} retired")

        return self.run("retire", f"retiring {generation} (draining)", work)

    def run(self, action: str, doing: str, work: Callable[[], Awaitable[Done]]) -> InFlight:
        """Run ``work`` (a mutation through :attr:`ops`) as this session's operation."""
        self._numbers += 1
        holder: list[InFlight] = []

        async def operate() -> None:
            await asyncio.sleep(0)  # let the caller hold the InFlight before it can end
            operation = holder[0]
            try:
                operation.done = await work()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # reported to listeners
                operation.error = error

        task = asyncio.ensure_future(operate())
        operation = InFlight(self._numbers, action, doing, task)
        holder.append(operation)
        self.in_flight.append(operation)
        task.add_done_callback(lambda _: self._ended(operation))
        self._tell(OperationsChanged(tuple(self.in_flight)))
        return operation

    def _ended(self, operation: InFlight) -> None:
        if operation in self.in_flight:
            self.in_flight.remove(operation)
        self._tell(OperationsChanged(tuple(self.in_flight), operation))
        if self._started:
            self.request_read()

    async def finish_operations(self) -> None:
        """Wait until every operation in flight has ended."""
        while self.in_flight:
            await asyncio.gather(*(o.task for o in self.in_flight), return_exceptions=True)

    async def history(self) -> list[JournalRecord]:
        return await self.backend.journal.records(self.name)

    async def interrupted(self, records: list[JournalRecord] | None = None) -> list[JournalRecord]:
        """Actions that started and never ended (Molt was killed mid-way), or ended
        ``interrupted``, and that neither a later action nor the fleet itself shows
        finished (the local agent finishes a launch or retire on its own). One whose
        holder still has the fleet lock is running, not interrupted."""
        records = await self.history() if records is None else records
        snapshot = self.snapshot or await self.read()
        holder = await self.backend.lock_holder()
        running = holder.record if holder is not None else None
        left = []
        for index, record in enumerate(records):
            if record.outcome not in (Outcome.STARTED, Outcome.INTERRUPTED):
                continue
            if record.id == running:
                continue
            if any(_finishes(later, record) for later in records[index + 1 :]):
                continue
            if _done_anyway(record, snapshot):
                continue
            left.append(record)
        return left

    # waiting -----------------------------------------------------------------------------
    async def wait_settled(
        self, generation: str, *, timeout: float, degraded_grace: float = DEGRADED_GRACE
    ) -> Generation:
        """Until every instance of ``generation`` is healthy (returned), or it failed or
        stayed degraded with nothing pending for ``degraded_grace`` seconds (a host
        down: :class:`OperationFailed`); :class:`Unreachable` on timeout. Reads at the
        driver's own pace (``poll_interval``)."""
        deadline = Deadline(timeout)
        sick_since: Deadline | None = None
        found: Generation | None = None
        async for _ in deadline.every(self.backend.poll_interval):
            found = (await self.read()).generation(generation)
            if found is None:
                raise OperationFailed(f"{generation} disappeared from fleet {self.name}")
            healths = [i.health for i in found.instances]
            if healths and all(h is Health.HEALTHY for h in healths):
                return found
            if found.state is GenerationState.FAILED:
                raise OperationFailed(f"{generation} ({found.version}) failed: {_why(found)}")
            settled_sick = found.state is GenerationState.DEGRADED and Health.PENDING not in healths
            if not settled_sick:
                sick_since = None
            elif sick_since is None:
                sick_since = Deadline(degraded_grace)
            elif sick_since.expired:
                raise OperationFailed(
                    f"{generation} ({found.version}) is degraded: {found.healthy_count()}/"
                    f"{len(healths)} healthy, {_why(found)}"
                )
        healthy = found.healthy_count() if found else 0
        total = len(found.instances) if found else 0
        raise Unreachable(
            f"{generation} not healthy after {timeout:.0f} s ({healthy}/{total} healthy); "
            f"see `molt status {self.name}`"
        )

    # the built-in demo -------------------------------------------------------------------
    async def prepare(self, progress: Callable[[str], None] = lambda _: None) -> None:
        """The built-in demo fleet launches and promotes its first generation on first
        use, so a newcomer sees a live fleet at once. Once anything was done to the fleet
        (even retiring everything), it is left as the operator made it."""
        fleet = self.fleet
        if fleet.bootstrap_version is None or self.read_only:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.state_dir / "bootstrap.lock").open("w") as lock:
            # two Molts started at once on a fresh state dir must not both launch g1
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            if (await self.backend.snapshot()).generations:
                return
            if await self.backend.journal.records(fleet.name):
                return
            version = fleet.bootstrap_version
            progress(f"starting the {fleet.name} fleet: launching its first generation {version}…")
            spec = GenerationSpec(version=version, note="built-in demo: first generation")
            generation = await self.ops.launch(spec)
            await self.wait_settled(generation.id, timeout=BOOTSTRAP_TIMEOUT)
            await self.ops.promote(generation.id)

    # closing -----------------------------------------------------------------------------
    async def close(self, *, interrupt: bool = True) -> None:
        """Stop following the fleet; interrupt the operations in flight (journaled
        ``interrupted``) or, with ``interrupt=False``, wait for them; release the
        backend. The fleet itself keeps running."""
        for task in list(self._tasks):
            task.cancel()
        operations = [o.task for o in self.in_flight]
        if interrupt:
            for task in operations:
                task.cancel()
        await asyncio.gather(*self._tasks, *operations, return_exceptions=True)
        self._listeners.clear()
        with contextlib.suppress(Exception):
            await self.backend.close()

    async def __aenter__(self) -> FleetSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


WEIGHT_ACTIONS = frozenset({"shift", "promote", "rollback"})


def _finishes(later: JournalRecord, cut: JournalRecord) -> bool:
    """Does ``later`` (which went through) finish what ``cut`` left undone?"""
    if later.outcome is not Outcome.OK:
        return False
    if cut.action in WEIGHT_ACTIONS:
        return later.action in WEIGHT_ACTIONS
    if cut.action == "launch":
        return later.action == "launch" and later.args.get("version") == cut.args.get("version")
    return later.action == cut.action and later.args.get("generation") == cut.args.get("generation")


def _done_anyway(record: JournalRecord, snapshot: FleetSnapshot) -> bool:
    """Does the fleet show that the cut-short action got done all the same?"""
    if record.action == "retire":
        return snapshot.generation(str(record.args.get("generation"))) is None
    if record.action == "launch":
        return any(
            g.version == record.args.get("version")
            and g.launched_by == record.operator
            and g.launched_at >= record.at - timedelta(seconds=5)
            and g.lifecycle is not Lifecycle.LAUNCHING
            for g in snapshot.generations
        )
    return False


def again(record: JournalRecord, fleet: str) -> str:
    """The command that finishes an interrupted action."""
    generation = record.args.get("generation")
    if record.action == "retire" and generation:
        return f"molt retire {fleet} {generation}"
    if record.action == "launch":
        return f"molt launch {fleet} --version {record.args.get('version')}"
    return f"molt status {fleet}, then shift again"


def _weights(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())


def _why(generation: Generation) -> str:
    unhealthy = [i for i in generation.instances if i.health is Health.UNHEALTHY]
    total = len(generation.instances)
    if unhealthy and unhealthy[0].last_check:
        return f"{len(unhealthy)}/{total} unhealthy, {unhealthy[0].last_check}"
    return f"{len(unhealthy)}/{total} instances unhealthy"
