"""The estate: every fleet molt.toml names, read in parallel, one summary each.

Each fleet is read as ``molt status FLEET`` reads it (:func:`~backends.engine.status.read_status`:
the fleet, then its journal's new records and its locks), through one
:class:`~backends.engine.session.FleetSession` per fleet kept for the estate's life —
so a second read costs what a TUI poll costs (the journal is read incrementally). The
sessions it opens are never started (no watch loop) and never prepared: a look writes
nothing. A session handed in that already follows its fleet (the TUI's) costs nothing:
the estate takes what it last saw.

Every fleet has its own deadline: a dead fleet (a host refusing connections, an
address that swallows packets) never delays the others. A fleet that failed keeps its
last summary, marked unreachable with why and since when, and is not read again until
its backoff (2 s, 4 s, 8 s… up to a minute) has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from backends.config.fleet_config import FleetConfig
from backends.core.clock import utcnow
from backends.core.errors import Unreachable
from backends.core.estate import FleetSummary, order
from backends.engine.session import FleetSession
from backends.engine.status import read_status, summarize, unreachable
from backends.engine.updates import describe

DEADLINE = 5.0  # seconds a fleet's read may take before it counts as failed
BACKOFF_FIRST = 2.0  # seconds before a failed fleet is read again; doubles each failure
BACKOFF_MAX = 60.0


@dataclass(eq=False)
class _Fleet:
    """One fleet of the estate: its session (opened at its first read), its last
    summary, its failures and the read in flight."""

    config: FleetConfig
    summary: FleetSummary
    session: FleetSession | None = None
    owned: bool = True  # the estate opened the session (and closes it)
    failures: int = 0
    retry_at: datetime | None = None
    reading: asyncio.Task[FleetSummary] | None = field(default=None, repr=False)


class Estate:
    """Every fleet of molt.toml, read together.

    Args:
        fleets: the fleets, in molt.toml's order.
        state_dir: Molt's state directory (the local driver's agent lives there).
        read_only: open every session read-only (a read writes nothing either way).
        session_for: the session of a fleet, for a caller that already owns them (the
            TUI: one process never has two sessions for a fleet). Called at every read
            of the fleet — return the same session while it lives (its journal is read
            incrementally); the estate never closes what it returns. A session that
            follows its fleet (started) is not read again: the estate takes what it
            last saw. None: the estate opens its own, closed by :meth:`close`.
        clock: the time summaries and backoffs are judged by.
        deadline: seconds each fleet's read may take.
    """

    def __init__(
        self,
        fleets: Sequence[FleetConfig],
        state_dir: Path,
        *,
        read_only: bool,
        session_for: Callable[[FleetConfig], FleetSession] | None = None,
        clock: Callable[[], datetime] = utcnow,
        deadline: float = DEADLINE,
    ) -> None:
        self.state_dir = state_dir
        self.read_only = read_only
        self.clock = clock
        self.deadline = deadline
        self._session_for = session_for
        self._closed = asyncio.Event()
        self._fleets = {f.name: _Fleet(f, FleetSummary(f.name, f.backend)) for f in fleets}

    @property
    def names(self) -> list[str]:
        """The fleets, in molt.toml's order."""
        return list(self._fleets)

    def summaries(self) -> list[FleetSummary]:
        """Every fleet's last summary, in :func:`~backends.core.estate.order`."""
        return order([f.summary for f in self._fleets.values()])

    def summary(self, name: str) -> FleetSummary:
        """The fleet's last summary (KeyError: no such fleet in the estate)."""
        return self._fleets[name].summary

    def session(self, name: str) -> FleetSession | None:
        """The fleet's session (None: not read yet), for a deeper look (``molt report``)."""
        return self._fleets[name].session

    async def refresh(self) -> list[FleetSummary]:
        """Read every fleet at once; returns when each has answered or hit its
        deadline (a fleet in backoff answers at once with its kept summary), in
        :func:`~backends.core.estate.order`."""
        await asyncio.gather(*(self._read(f) for f in self._fleets.values()))
        return self.summaries()

    async def follow(self, period: float) -> AsyncIterator[FleetSummary]:
        """Read every fleet every ``period`` seconds, yielding each fleet's summary as
        soon as it is read (the fast ones first), until the estate is closed. A fleet
        in backoff yields its kept summary; break out of the loop to stop sooner."""
        loop = asyncio.get_running_loop()
        while not self._closed.is_set():
            started = loop.time()
            for done in asyncio.as_completed([self._read(f) for f in self._fleets.values()]):
                yield await done
            with contextlib.suppress(TimeoutError):  # the period's rest, or until closed
                async with asyncio.timeout(max(0.0, period - (loop.time() - started))):
                    await self._closed.wait()

    async def read(self, name: str) -> FleetSummary:
        """Read one fleet now (unless it is in backoff), within its deadline."""
        return await self._read(self._fleets[name])

    async def close(self) -> None:
        """Stop the reads in flight and close the sessions the estate opened; reads
        asked for afterwards answer with the last summaries."""
        self._closed.set()
        reads = [f.reading for f in self._fleets.values() if f.reading is not None]
        for task in reads:
            task.cancel()
        await asyncio.gather(*reads, return_exceptions=True)
        owned = [f.session for f in self._fleets.values() if f.owned and f.session is not None]
        for fleet in self._fleets.values():
            fleet.session = None
        await asyncio.gather(*(s.close() for s in owned), return_exceptions=True)

    async def __aenter__(self) -> Estate:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # one fleet -------------------------------------------------------------------------
    async def _read(self, fleet: _Fleet) -> FleetSummary:
        """The fleet's summary after a read — one read in flight per fleet, whoever
        asks; none while the fleet's backoff lasts."""
        if fleet.reading is None or fleet.reading.done():
            if self._closed.is_set():
                return fleet.summary
            if fleet.retry_at is not None and self.clock() < fleet.retry_at:
                return fleet.summary
            try:  # opened before any deadline starts: a driver's import is no fleet's fault
                session = self._session(fleet)
            except Exception as error:  # a fleet that cannot be opened is shown, never raised
                return self._failed(fleet, problem(error))
            fleet.reading = asyncio.ensure_future(self._read_now(fleet, session))
        reading = fleet.reading
        try:
            return await asyncio.shield(reading)
        except asyncio.CancelledError:
            this = asyncio.current_task()
            if reading.cancelled() and (this is None or not this.cancelling()):
                return fleet.summary  # closed under a follower: what was last known
            raise

    async def _read_now(self, fleet: _Fleet, session: FleetSession) -> FleetSummary:
        try:
            async with asyncio.timeout(self.deadline):
                started = session.feed.started
                read = await read_status(session, clock=self.clock, fresh=not started)
                records = session.journal_view.recent() + session.journal_view.records()
        except TimeoutError:
            return self._failed(fleet, f"no answer in {self.deadline:g} s")
        except Exception as error:  # a fleet that cannot be read is shown, never raised
            return self._failed(fleet, problem(error))
        now, kept = self.clock(), fleet.summary
        try:
            summary = summarize(session, read, records, now, kept.rps)
        except Exception as error:  # odd data in one fleet is its row's problem, not all
            return self._failed(fleet, problem(error))
        fleet.failures, fleet.retry_at = 0, None
        fleet.summary = summary
        if started and session.read_problem:  # what it saw last; it retries by itself
            fleet.summary = unreachable(fleet.summary, session.read_problem, _since(kept, now))
        return fleet.summary

    def _session(self, fleet: _Fleet) -> FleetSession:
        if self._session_for is not None:  # the caller's, as it stands now
            fleet.session, fleet.owned = self._session_for(fleet.config), False
        elif fleet.session is None:
            fleet.session = FleetSession(fleet.config, self.state_dir, read_only=self.read_only)
        return fleet.session

    def _failed(self, fleet: _Fleet, problem: str) -> FleetSummary:
        now = self.clock()
        fleet.failures += 1
        pause = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (fleet.failures - 1))
        fleet.retry_at = now + timedelta(seconds=pause)
        fleet.summary = unreachable(fleet.summary, problem, _since(fleet.summary, now))
        return fleet.summary


def _since(summary: FleetSummary, now: datetime) -> datetime:
    """Since when the fleet is unreachable, if it fails now."""
    return summary.since if not summary.reachable and summary.since is not None else now


def problem(error: BaseException) -> str:
    """Why a fleet cannot be read, in one line: ``10.0.0.5:22: connection refused``,
    ``Not authorised: …`` (an unreachable fleet needs no title saying so)."""
    title, message = describe(error)
    return message if isinstance(error, Unreachable) else f"{title}: {message}"
