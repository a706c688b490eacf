"""A fleet session: one open fleet, for the TUI and the CLI alike.

It owns the fleet's backend (read-only or not, fixed when it is opened), its guarded
:class:`~backends.engine.operations.Operations`, the reads and the watch loop, and the
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
import math
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from backends.config import drivers
from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.baseline import baseline, worse_than_baseline
from backends.core.clock import utcnow
from backends.core.deadline import Deadline
from backends.core.errors import OperationFailed, Unreachable
from backends.core.events import Event, OperatorAction, ReadError, SnapshotTaken, TrafficCrossed
from backends.core.interrupted import again as again
from backends.core.interrupted import interrupted
from backends.core.journal import JournalRecord
from backends.core.journal_view import JournalView
from backends.core.locking import FLEET_LOCK, ROLLOUT_LOCK, Lease, Locked
from backends.core.model import (
    DriftReport,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    GenerationState,
    Health,
)
from backends.core.rollout import Plan, rollout_state
from backends.core.taint import annotate, findings, taints
from backends.engine import rollout_driver
from backends.engine.operations import Operations
from backends.engine.updates import AttentionChanged as AttentionChanged
from backends.engine.updates import Done as Done
from backends.engine.updates import EventArrived as EventArrived
from backends.engine.updates import HistoryRead as HistoryRead
from backends.engine.updates import InFlight as InFlight
from backends.engine.updates import Listener as Listener
from backends.engine.updates import OperationsChanged as OperationsChanged
from backends.engine.updates import OperatorKnown as OperatorKnown
from backends.engine.updates import Preparing as Preparing
from backends.engine.updates import ProblemChanged as ProblemChanged
from backends.engine.updates import RolloutProgress as RolloutProgress
from backends.engine.updates import SnapshotUpdated as SnapshotUpdated
from backends.engine.updates import Update as Update
from backends.engine.updates import describe as describe

BOOTSTRAP_TIMEOUT = 60.0
ATTENTION_EVERY = 5.0  # seconds between looks at the journal and the locks
DEGRADED_GRACE = 15.0  # a generation degraded with nothing pending this long has settled
READ_GAP = 0.1  # at most 10 reads a second, however fast events arrive
CLOSE_GRACE = 5.0  # seconds close() waits for the reading tasks to end
TRAFFIC_EVERY = 2.0  # seconds between reads for the traffic numbers, events or not
RETRY_MAX = 10.0


class Opener(Protocol):
    def __call__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool) -> Backend: ...


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
        open_backend: Opener = opener or drivers.open_backend
        self.fleet = fleet
        self.state_dir = state_dir
        self.backend = open_backend(fleet, state_dir, read_only=read_only)
        self.ops = Operations(self.backend)
        #: where the fleet stands by its journal, kept by reading only what is new
        self.journal_view = JournalView(self.backend.journal, fleet.name)
        self.driver = drivers.describe(fleet.backend)
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
        self._worse: dict[str, tuple[str, ...]] = {}  # generation → what it does worse
        self._look_again = asyncio.Event()
        self._taken = asyncio.Event()  # a first snapshot is in
        self._polls = 0
        poll = max(self.backend.poll_interval, 0.1)
        self._polls_per_look = max(1, math.ceil(ATTENTION_EVERY / poll))
        #: generation → drift found (journaled, or seen by this read-only session)
        self.drift: dict[str, tuple[str, ...]] = {}
        #: the fleet's rollout, interrupted actions and lock, as last seen
        self.seen = AttentionChanged(None)
        self._worse_base: dict[str, str] = {}

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
        self._spawn(self._keep_attention())
        self._spawn(self._verify_now_and_then())
        if not self.backend.hands_over_snapshots:
            self._spawn(self._count_requests())
        try:
            await self.prepare(lambda text: self._preparing(text))
        except Exception as error:  # shown; the fleet is usable anyway
            title, message = describe(error)
            self._set_problem("prepare", f"{title}: {message}")
        finally:
            self._preparing("")

    def _preparing(self, text: str) -> None:
        was, self.preparing = self.preparing, text
        self._tell(Preparing(text))
        if not text and (was or not self.backend.hands_over_snapshots):
            self.request_read()  # a polled driver's next poll shows it anyway

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
                await self.journal_view.refresh(force=True)
            except Exception as error:
                await self._failed("history", error, backoff)
                continue
            self._clear("history")
            self._tell(HistoryRead(tuple(self.journal_view.recent())))
            return

    def _arrived(self, event: Event) -> None:
        if isinstance(event, SnapshotTaken):
            self._clear("watch")
            self._take(event.snapshot)
            self._polls += 1
            if self._polls % self._polls_per_look == 0:
                self._look_again.set()  # a polled driver looks every few polls, not by clock
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
        if isinstance(event, OperatorAction):
            self._look_again.set()  # a rollout step, a pause, an interrupted action…

    async def _count_requests(self) -> None:
        """What real requests see moves with no event (a driver that reads only when
        asked, as the local agent is): read again every :data:`TRAFFIC_EVERY` seconds."""
        while True:
            await asyncio.sleep(TRAFFIC_EVERY)
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

    async def _first_snapshot(self) -> FleetSnapshot:
        """The first read: a polled driver's watch is making it (a read of our own
        would pay for it twice); else, or if it is slow, read now."""
        if self._started and self.backend.hands_over_snapshots:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2 * self.backend.poll_interval):
                    await self._taken.wait()
        return self.snapshot or await self.read()

    def _take(self, snapshot: FleetSnapshot) -> None:
        snapshot = annotate(snapshot, self.drift, self.fleet.max_age, utcnow())
        self.snapshot = snapshot
        self._taken.set()
        self._tell(SnapshotUpdated(snapshot))
        for event in self._crossings(snapshot):
            self._tell(EventArrived(event))

    def _crossings(self, snapshot: FleetSnapshot) -> list[Event]:
        """A generation that starts, or stops, doing worse than its baseline: the
        moment is an event (the columns show the state; the stream shows when)."""
        events: list[Event] = []
        for generation in snapshot.generations:
            findings = tuple(worse_than_baseline(snapshot, generation.id))
            was = self._worse.get(generation.id, ())
            if bool(findings) != bool(was):
                base = baseline(snapshot, generation.id)
                events.append(
                    TrafficCrossed(
                        fleet=self.name,
                        at=snapshot.taken_at,
                        generation_id=generation.id,
                        baseline=base.id if base else (self._worse_base.get(generation.id, "")),
                        worse=bool(findings),
                        findings=findings,
                    )
                )
                if base is not None:
                    self._worse_base[generation.id] = base.id
            self._worse[generation.id] = findings
        return events

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

    # rollouts ----------------------------------------------------------------------------
    def start_rollout(self, generation: str, plan: Plan) -> InFlight:
        """Drive a rollout of ``generation`` (this session holds the rollout lock while
        it runs; progress arrives as :class:`RolloutProgress`)."""

        async def work() -> Done:
            done = await rollout_driver.start(self, generation, plan, self._rollout_line)
            return Done(f"rollout of {done.generation} done: {done.generation} at 100%")

        return self.run("rollout", f"rolling out {generation}", work)

    def pause_rollout(self) -> InFlight:
        async def work() -> Done:
            paused = await rollout_driver.pause(self, f"paused by {await self.ops.operator()}")
            return Done(f"rollout of {paused.generation} paused")

        return self.run("rollout", "pausing the rollout", work)

    def resume_rollout(self) -> InFlight:
        async def work() -> Done:
            resumed = await rollout_driver.resume(self, self._rollout_line)
            return Done(f"rollout of {resumed.generation} {resumed.state.value}")

        return self.run("rollout", "resuming the rollout", work)

    def abort_rollout(self, reason: str = "") -> InFlight:
        async def work() -> Done:
            operator = await self.ops.operator()
            aborted = await rollout_driver.abort(self, reason or f"aborted by {operator}")
            return Done(
                f"rollout of {aborted.generation} aborted: all traffic on {aborted.baseline}"
            )

        return self.run("rollout", "aborting the rollout", work)

    def _rollout_line(self, text: str) -> None:
        self._tell(RolloutProgress(text))
        self._look_again.set()

    async def attention(self) -> AttentionChanged:
        """The fleet's rollout, interrupted actions and lock holder, read now (of the
        journal, only what is new — and on a journal whose reads cost, only when the
        locks or the fleet show it can have changed, or every few looks)."""
        snapshot = self.snapshot or await self._first_snapshot()
        holders = await self.backend.lock_holders((FLEET_LOCK, ROLLOUT_LOCK))
        lock, driver = holders[FLEET_LOCK], holders[ROLLOUT_LOCK]
        await self.journal_view.refresh(marker=_marker(snapshot, lock, driver))
        records = self.journal_view.records()
        cut = interrupted(records, snapshot, [lock, driver])
        for generation, found in taints(records).items():
            self.drift[generation] = tuple(dict.fromkeys([*self.drift.get(generation, ()), *found]))
        return AttentionChanged(rollout_state(records, driver), tuple(cut), lock)

    # immutability ------------------------------------------------------------------------
    async def verify(self, generations: list[str] | None = None) -> list[DriftReport]:
        """Check generations against what they were launched from. Drift found is
        journaled (sticky: the generation stays tainted until retired) — unless the
        session is read-only, when it is only shown."""
        snapshot = await self.read()
        targets = generations if generations is not None else [g.id for g in snapshot.generations]
        reports = [await self.backend.verify(g) for g in targets]
        for report in reports:
            found = findings(report)
            if not found:
                continue
            known = self.drift.get(report.generation, ())
            self.drift[report.generation] = tuple(dict.fromkeys([*known, *found]))
            if not self.read_only and not set(found) <= set(known):
                with contextlib.suppress(Locked):  # the next check journals it, then
                    args = {"generation": report.generation, "drift": found}
                    await self.ops.record("verify", args)
        if self.snapshot is not None:
            self._take(self.snapshot)
        return reports

    async def _verify_now_and_then(self) -> None:
        """The TUI's own immutability checks, every ``verify_interval`` seconds."""
        backoff = _Backoff()
        while True:
            await asyncio.sleep(self.fleet.verify_interval)
            try:
                await self.verify()
                self._clear("verify")
            except Exception as error:
                await self._failed("verify", error, backoff)

    @property
    def _attention_every(self) -> float:
        """A polled driver's looks follow its polls (so they cost a share of each); the
        clock only stands in when no poll comes through."""
        return ATTENTION_EVERY * (4 if self.backend.hands_over_snapshots else 1)

    async def _keep_attention(self) -> None:
        """Look at the journal and the locks now and then (and after every action), so a
        rollout driven elsewhere — or a driver that died — shows."""
        backoff = _Backoff()
        self._look_again.set()  # a look at once: a rollout already running shows at start
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
            # cancel that meets the event being set, and close() would wait forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._attention_every):
                    await self._look_again.wait()
            self._look_again.clear()
            try:
                seen = await self.attention()
            except Exception as error:
                await self._failed("attention", error, backoff)
                continue
            self._clear("attention")
            if seen != self.seen:
                self.seen = seen
                self._tell(seen)

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
        self.journal_view.stale()  # it wrote: the next look reads the journal
        if operation in self.in_flight:
            self.in_flight.remove(operation)
        self._tell(OperationsChanged(tuple(self.in_flight), operation))
        if self._started:
            self.request_read()

    async def finish_operations(self) -> None:
        """Wait until every operation in flight has ended (whoever waits may be
        cancelled; the operations are not)."""
        while self.in_flight:
            await asyncio.wait([asyncio.shield(o.task) for o in self.in_flight])

    async def history(self) -> list[JournalRecord]:
        """Every action on the fleet (``molt history``, reports): the whole journal."""
        return await self.backend.journal.records(self.name)

    async def standing(self) -> list[JournalRecord]:
        """The records that say where the fleet stands (unfinished actions, the latest
        rollout, drift, the last actions), read up to now — only what is new."""
        await self.journal_view.refresh(force=True)
        return self.journal_view.records()

    async def interrupted(self, records: list[JournalRecord] | None = None) -> list[JournalRecord]:
        """Actions Molt was stopped in the middle of (see :mod:`backends.core.interrupted`)."""
        records = await self.standing() if records is None else records
        snapshot = self.snapshot or await self.read()
        holders = [await self.backend.lock_holder(lock) for lock in (FLEET_LOCK, ROLLOUT_LOCK)]
        return interrupted(records, snapshot, holders)

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
        followers = list(self._tasks)
        if followers:  # reading tasks hold nothing: one that ignores its cancel is left
            await asyncio.wait(followers, timeout=CLOSE_GRACE)
        await asyncio.gather(*operations, return_exceptions=True)
        self._listeners.clear()
        with contextlib.suppress(Exception):
            await self.backend.close()

    async def __aenter__(self) -> FleetSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _marker(snapshot: FleetSnapshot, *holders: Lease | None) -> object:
    """What a look saw that moves when the journal does: every write is made under the
    fleet lock, and most change the weights or the generations."""
    leases = tuple((h.token, h.record) if h is not None else None for h in holders)
    return leases, tuple((g.id, g.weight, g.lifecycle) for g in snapshot.generations)


def _weights(weights: Mapping[str, int]) -> str:
    return " ".join(f"{g}={w}" for g, w in weights.items())


def _why(generation: Generation) -> str:
    unhealthy = [i for i in generation.instances if i.health is Health.UNHEALTHY]
    total = len(generation.instances)
    if unhealthy and unhealthy[0].last_check:
        return f"{len(unhealthy)}/{total} unhealthy, {unhealthy[0].last_check}"
    return f"{len(unhealthy)}/{total} instances unhealthy"
