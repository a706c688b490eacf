"""A session's feed: what it reads of its fleet and how it keeps following it — the watch
loop, the reader (at most :data:`READ_GAP` apart, one read at a time), each snapshot with
its baseline crossings, the looks at the journal and the locks (the attention loop), the
immutability checks now and then, and the problems met on the way, retried with backoff.

It never changes the fleet, with one exception a read-write session makes: drift found
by :meth:`Feed.verify` is journaled (sticky until the generation is retired).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.clock import utcnow
from backends.core.errors import Unreachable
from backends.core.interrupted import interrupted
from backends.core.journal import JournalRecord
from backends.core.journal_view import JournalView
from backends.core.locking import FLEET_LOCK, ROLLOUT_LOCK, Lease, Locked
from backends.core.model import DriftReport, FleetSnapshot
from backends.core.rollout import rollout_state
from backends.core.taint import annotate, findings, taints
from backends.engine.crossings import Crossings
from backends.engine.operations import Operations
from backends.engine.problems import Backoff, Problems
from backends.engine.updates import (
    AttentionChanged,
    EventArrived,
    HistoryRead,
    Listener,
    OperatorKnown,
    SnapshotUpdated,
)

if TYPE_CHECKING:
    from backends.core.events import Event

ATTENTION_EVERY = 5.0  # seconds between looks at the journal and the locks
READ_GAP = 0.1  # at most 10 reads a second, however fast events arrive
TRAFFIC_EVERY = 2.0  # seconds between reads for the traffic numbers, events or not


class Feed:
    """Reads one fleet and follows it once :meth:`start` is called; listeners hear what
    it finds through ``tell``."""

    def __init__(
        self,
        fleet: FleetConfig,
        backend: Backend,
        ops: Operations,
        journal_view: JournalView,
        tell: Listener,
    ) -> None:
        self.fleet = fleet
        self.backend = backend
        self.ops = ops
        self.journal_view = journal_view
        self._tell = tell
        self.problems = Problems(tell)
        self.snapshot: FleetSnapshot | None = None
        self.operator = ""
        self.started = False
        #: generation → drift found (journaled, or seen by this read-only session)
        self.drift: dict[str, tuple[str, ...]] = {}
        #: the fleet's rollout, interrupted actions and lock, as last seen
        self.seen = AttentionChanged(None)
        #: told every look, changed or not (the notifier: a lock held too long is news
        #: that no change brings)
        self.on_look: Callable[[AttentionChanged], None] | None = None
        self._crossings = Crossings(fleet.name)
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = asyncio.Event()
        self._look_again = asyncio.Event()
        self._taken = asyncio.Event()  # a first snapshot is in
        self._polls = 0
        poll = max(self.backend.poll_interval, 0.1)
        self._polls_per_look = max(1, math.ceil(ATTENTION_EVERY / poll))

    @property
    def name(self) -> str:
        return self.fleet.name

    # following the fleet -----------------------------------------------------------------
    def start(self, then: Callable[[], Awaitable[None]]) -> None:
        """Read the fleet and follow its events in the background; once the first read
        is in, ``then()`` (the demo's first launch)."""
        self.started = True
        self.spawn(self._begin(then))
        self.spawn(self._reader())

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def stop(self) -> list[asyncio.Task[None]]:
        """Cancel every task of the feed; returns them, to wait for."""
        for task in list(self._tasks):
            task.cancel()
        return list(self._tasks)

    async def _begin(self, then: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff()
        while True:
            try:
                self.operator = await self.ops.operator()
                self._tell(OperatorKnown(self.operator))
                if not self.backend.hands_over_snapshots:
                    await self.read()
                break
            except Exception as error:
                await self.problems.failed("read", error, backoff)
        self.spawn(self._follow())
        self.spawn(self._seed_history())
        self.spawn(self._keep_attention())
        self.spawn(self._verify_now_and_then())
        if not self.backend.hands_over_snapshots:
            self.spawn(self._count_requests())
        await then()

    async def _follow(self) -> None:
        backoff = Backoff()
        while True:
            try:
                async for event in self.backend.watch():
                    backoff.reset()
                    self._arrived(event)
                raise Unreachable("the event stream ended")
            except Exception as error:
                await self.problems.failed("watch", error, backoff)

    async def _seed_history(self) -> None:
        backoff = Backoff()
        while True:
            try:
                await self.journal_view.refresh(force=True)
            except Exception as error:
                await self.problems.failed("history", error, backoff)
                continue
            self.problems.clear("history")
            self._tell(HistoryRead(tuple(self.journal_view.recent())))
            return

    def _arrived(self, event: Event) -> None:
        # the events module is imported once the fleet is followed: a look never is
        from backends.core.events import OperatorAction, ReadError, SnapshotTaken

        if isinstance(event, SnapshotTaken):
            self.problems.clear("watch")
            self._take(event.snapshot)
            self._polls += 1
            if self._polls % self._polls_per_look == 0:
                self._look_again.set()  # a polled driver looks every few polls, not by clock
            return
        if isinstance(event, ReadError) and not event.source:
            if event.cleared:
                self.problems.clear("watch")
            else:
                self.problems.set("watch", f"{event.title}: {event.message}")
        else:
            self.problems.clear("watch")
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

    # reading -----------------------------------------------------------------------------
    def request_read(self) -> None:
        """Read the fleet again soon (at most 10 times a second, one read at a time)."""
        self._dirty.set()

    def look_again(self) -> None:
        """Look at the journal and the locks again soon (something was journaled)."""
        self._look_again.set()

    async def _reader(self) -> None:
        backoff = Backoff()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.read()
                backoff.reset()
            except Exception as error:
                await self.problems.failed("read", error, backoff)
                self._dirty.set()
            await asyncio.sleep(READ_GAP)

    async def read(self) -> FleetSnapshot:
        """Read the fleet now; listeners see the result."""
        snapshot = await self.backend.snapshot()
        self.problems.clear("read")
        self._take(snapshot)
        return snapshot

    async def _first_snapshot(self) -> FleetSnapshot:
        """The first read: a polled driver's watch is making it (a read of our own
        would pay for it twice); else, or if it is slow, read now."""
        if self.started and self.backend.hands_over_snapshots:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2 * self.backend.poll_interval):
                    await self._taken.wait()
        return self.snapshot or await self.read()

    def _take(self, snapshot: FleetSnapshot) -> None:
        snapshot = annotate(snapshot, self.drift, self.fleet.max_age, utcnow())
        self.snapshot = snapshot
        self._taken.set()
        self._tell(SnapshotUpdated(snapshot))
        for event in self._crossings.seen(snapshot):
            self._tell(EventArrived(event))

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

    # the journal and the locks -----------------------------------------------------------
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
        rollout = rollout_state(records, driver)
        driven_by = f"{driver.holder} ({driver.host})" if driver is not None else ""
        return AttentionChanged(rollout, tuple(cut), lock, driven_by)

    @property
    def _attention_every(self) -> float:
        """A polled driver's looks follow its polls (so they cost a share of each); the
        clock only stands in when no poll comes through."""
        return ATTENTION_EVERY * (4 if self.backend.hands_over_snapshots else 1)

    async def _keep_attention(self) -> None:
        """Look at the journal and the locks now and then (and after every action), so a
        rollout driven elsewhere — or a driver that died — shows."""
        backoff = Backoff()
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
                await self.problems.failed("attention", error, backoff)
                continue
            self.problems.clear("attention")
            if self.on_look is not None:
                self.on_look(seen)
            if seen != self.seen:
                self.seen = seen
                self._tell(seen)

    # immutability ------------------------------------------------------------------------
    async def verify(self, generations: list[str] | None = None) -> list[DriftReport]:
        """Check generations against what they were launched from. Drift found is
        journaled (sticky: the generation stays tainted until retired) — unless the
        session is read-only, when it is only shown."""
        snapshot = await self.read()
        if not self.backend.read_only:
            await self.attention()  # the drift already journaled: said once, not every check
        targets = generations if generations is not None else [g.id for g in snapshot.generations]
        reports = [await self.backend.verify(g) for g in targets]
        for report in reports:
            found = findings(report)
            if not found:
                continue
            known = self.drift.get(report.generation, ())
            self.drift[report.generation] = tuple(dict.fromkeys([*known, *found]))
            if not self.backend.read_only and not set(found) <= set(known):
                with contextlib.suppress(Locked):  # the next check journals it, then
                    args = {"generation": report.generation, "drift": found}
                    await self.ops.record("verify", args)
        if self.snapshot is not None:
            self._take(self.snapshot)
        return reports

    async def _verify_now_and_then(self) -> None:
        """The TUI's own immutability checks, every ``verify_interval`` seconds."""
        backoff = Backoff()
        while True:
            await asyncio.sleep(self.fleet.verify_interval)
            try:
                await self.verify()
                self.problems.clear("verify")
            except Exception as error:
                await self.problems.failed("verify", error, backoff)


def _marker(snapshot: FleetSnapshot, *holders: Lease | None) -> object:
    """What a look saw that moves when the journal does: every write is made under the
    fleet lock, and most change the weights or the generations."""
    leases = tuple((h.token, h.record) if h is not None else None for h in holders)
    return leases, tuple((g.id, g.weight, g.lifecycle) for g in snapshot.generations)
