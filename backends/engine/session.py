"""A fleet session: one open fleet, for the TUI and the CLI alike.

It owns the fleet's backend (read-only or not, fixed when it is opened), its guarded
:class:`~backends.engine.operations.Operations`, and three parts that share them:

* the :class:`~backends.engine.feed.Feed` reads the fleet and follows it (the watch
  loop, the reads, the looks at the journal and the locks, problems retried);
* the :class:`~backends.engine.runner.Runner` runs the operations in flight — they
  belong to the session, so switching screen or fleet never cancels them;
* :func:`~backends.engine.bootstrap.prepare` gives the built-in demo its first generation.

A screen renders a session and sends it intents. Closing a session either waits for its
operations or interrupts them — and then the journal says ``interrupted``, never a
dangling *started*. Listeners get typed updates (:data:`~backends.engine.updates.Update`)
in the event loop's thread, as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from backends.config import drivers
from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.journal import JournalRecord
from backends.core.journal_view import JournalView
from backends.core.model import DriftReport, FleetSnapshot, Generation, GenerationSpec
from backends.core.rollout import Plan
from backends.engine import bootstrap
from backends.engine.feed import Feed
from backends.engine.operations import Operations
from backends.engine.runner import DEGRADED_GRACE, Runner, wait_settled
from backends.engine.updates import (
    AttentionChanged,
    Done,
    InFlight,
    Listener,
    Preparing,
    SnapshotUpdated,
    Update,
    describe,
)

if TYPE_CHECKING:
    from backends.engine.notify import Notifier

CLOSE_GRACE = 5.0  # seconds close() waits for the reading tasks to end


class Opener(Protocol):
    def __call__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool) -> Backend: ...


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
        self.preparing = ""
        self._listeners: list[Listener] = []
        self.feed = Feed(fleet, self.backend, self.ops, self.journal_view, self._tell)
        self.runner = Runner(self, self.feed, self._tell)
        #: tells the team what this session sees happen (started, with write access,
        #: when molt.toml has a [notify] section): see :mod:`backends.engine.notify`
        self.notifier: Notifier | None = None

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

    # what the feed last saw --------------------------------------------------------------
    @property
    def snapshot(self) -> FleetSnapshot | None:
        return self.feed.snapshot

    @property
    def operator(self) -> str:
        return self.feed.operator

    @property
    def problem(self) -> str:
        return self.feed.problems.text

    @property
    def read_problem(self) -> str:
        """What keeps the session from reading its fleet (a failing webhook does not)."""
        return self.feed.problems.reading

    @property
    def drift(self) -> dict[str, tuple[str, ...]]:
        """Generation → drift found (journaled, or seen by this read-only session)."""
        return self.feed.drift

    @property
    def seen(self) -> AttentionChanged:
        """The fleet's rollout, interrupted actions and lock, as last seen."""
        return self.feed.seen

    @property
    def in_flight(self) -> list[InFlight]:
        return self.runner.in_flight

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
        if self.feed.started:
            return
        self._tell_the_team()
        self.feed.start(self._prepare_in_background)

    def _tell_the_team(self) -> None:
        """A look never writes, and a claim is a write: read-only sessions never notify."""
        settings = self.fleet.notify
        if settings is None or self.read_only:
            return
        from backends.engine.notify import Notifier  # only a session that tells pays for it

        notifier = self.notifier = Notifier(
            settings,
            self.backend,
            self.name,
            self.feed.problems,
            operator=lambda: self.operator or "molt",
        )
        self.feed.on_look = lambda seen: notifier.looked(seen, self.journal_view.records())
        self.listen(lambda u: notifier.took(u.snapshot) if isinstance(u, SnapshotUpdated) else None)
        notifier.start()

    async def _prepare_in_background(self) -> None:
        try:
            await self.prepare(lambda text: self._preparing(text))
        except Exception as error:  # shown; the fleet is usable anyway
            title, message = describe(error)
            self.feed.problems.set("prepare", f"{title}: {message}")
        finally:
            self._preparing("")

    def _preparing(self, text: str) -> None:
        was, self.preparing = self.preparing, text
        self._tell(Preparing(text))
        if not text and (was or not self.backend.hands_over_snapshots):
            self.request_read()  # a polled driver's next poll shows it anyway

    def request_read(self) -> None:
        """Read the fleet again soon (at most 10 times a second, one read at a time)."""
        self.feed.request_read()

    async def read(self) -> FleetSnapshot:
        """Read the fleet now; listeners see the result."""
        return await self.feed.read()

    async def attention(self) -> AttentionChanged:
        """The fleet's rollout, interrupted actions and lock holder, read now."""
        return await self.feed.attention()

    async def verify(self, generations: list[str] | None = None) -> list[DriftReport]:
        """Check generations against what they were launched from (drift found is
        journaled, unless the session is read-only)."""
        return await self.feed.verify(generations)

    async def history(self) -> list[JournalRecord]:
        """Every action on the fleet (``molt history``, reports): the whole journal."""
        return await self.feed.history()

    async def standing(self) -> list[JournalRecord]:
        """The records that say where the fleet stands, read up to now."""
        return await self.feed.standing()

    async def interrupted(self, records: list[JournalRecord] | None = None) -> list[JournalRecord]:
        """Actions Molt was stopped in the middle of."""
        return await self.feed.interrupted(records)

    # intents (see Runner) ----------------------------------------------------------------
    def launch(self, spec: GenerationSpec) -> InFlight:
        return self.runner.launch(spec)

    def shift(
        self, weights: Mapping[str, int], *, was: str = "", expected: str | None = None
    ) -> InFlight:
        """``expected``: the fleet revision the shift was staged against."""
        return self.runner.shift(weights, was=was, expected=expected)

    def promote(self, generation: str) -> InFlight:
        return self.runner.promote(generation)

    def rollback(self) -> InFlight:
        return self.runner.rollback()

    def retire(self, generation: str) -> InFlight:
        return self.runner.retire(generation)

    def start_rollout(self, generation: str, plan: Plan) -> InFlight:
        """Drive a rollout of ``generation`` (progress arrives as ``RolloutProgress``)."""
        return self.runner.start_rollout(generation, plan)

    def pause_rollout(self) -> InFlight:
        return self.runner.pause_rollout()

    def resume_rollout(self) -> InFlight:
        return self.runner.resume_rollout()

    def abort_rollout(self, reason: str = "") -> InFlight:
        return self.runner.abort_rollout(reason)

    def run(self, action: str, doing: str, work: Callable[[], Awaitable[Done]]) -> InFlight:
        """Run ``work`` (a mutation through :attr:`ops`) as this session's operation."""
        return self.runner.run(action, doing, work)

    async def finish_operations(self) -> None:
        """Wait until every operation in flight has ended."""
        await self.runner.finish_operations()

    async def wait_settled(
        self, generation: str, *, timeout: float, degraded_grace: float = DEGRADED_GRACE
    ) -> Generation:
        """Until every instance of ``generation`` is healthy (see
        :func:`~backends.engine.runner.wait_settled`)."""
        return await wait_settled(self, generation, timeout=timeout, degraded_grace=degraded_grace)

    async def prepare(self, progress: Callable[[str], None] = lambda _: None) -> None:
        """The built-in demo fleet's first generation, on first use (see
        :mod:`backends.engine.bootstrap`)."""
        await bootstrap.prepare(self, self.fleet, self.state_dir, progress)

    # closing -----------------------------------------------------------------------------
    async def close(self, *, interrupt: bool = True) -> None:
        """Stop following the fleet; interrupt the operations in flight (journaled
        ``interrupted``) or, with ``interrupt=False``, wait for them; release the
        backend. The fleet itself keeps running."""
        followers = self.feed.stop()
        operations = [o.task for o in self.in_flight]
        if interrupt:
            for task in operations:
                task.cancel()
        if followers:  # reading tasks hold nothing: one that ignores its cancel is left
            await asyncio.wait(followers, timeout=CLOSE_GRACE)
        await asyncio.gather(*operations, return_exceptions=True)
        self._listeners.clear()
        if self.notifier is not None:
            await self.notifier.close()
        with contextlib.suppress(Exception):
            await self.backend.close()

    async def __aenter__(self) -> FleetSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
