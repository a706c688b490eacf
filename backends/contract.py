"""The contract every driver implements (local, aws, ssh).

One backend instance serves **one** fleet, and whether it may write is fixed when it is
made: a read-only backend performs no write of any kind. No read writes either, in or
out of read-only mode: a difference between what runs and what Molt means it to run is
reported (:meth:`Backend.differences`) and only :meth:`Backend.apply` acts on it. The
mutating methods here refuse in read-only mode before the driver is asked anything, so
no driver can forget to.

A driver only reads and acts; it never decides whether an action is allowed. That is
the job of :mod:`backends.core.guards`, applied by :class:`backends.engine.operations.Operations`,
the one door every mutation goes through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from backends.config.fleet_config import FleetConfig
from backends.core.chain import Anchor, ChainReport
from backends.core.errors import Refused
from backends.core.guards import check_carries_no_traffic
from backends.core.journal import Journal, JournalRecord, os_operator
from backends.core.locking import FLEET_LOCK, LEASE_TTL, Lease
from backends.core.model import DriftReport, FleetSnapshot, Generation, GenerationSpec

if TYPE_CHECKING:
    from backends.core.events import Event


def read_only_refusal(what: str) -> Refused:
    return Refused(f"read-only mode: {what} is not allowed (start Molt without --read-only)")


class ReadOnlyJournal(Journal):
    """A journal that can be read, never written."""

    def __init__(self, inner: Journal) -> None:
        self.inner = inner
        self.reads_cost = inner.reads_cost
        self.anchored_at = inner.anchored_at

    async def write(self, record: JournalRecord) -> None:
        raise read_only_refusal(record.action)

    async def lines(self, fleet: str) -> list[str]:
        return await self.inner.lines(fleet)

    async def records(self, fleet: str) -> list[JournalRecord]:
        return await self.inner.records(fleet)

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        return await self.inner.after(fleet, cursor)

    async def summary(self, fleet: str) -> tuple[list[str], str]:
        return await self.inner.summary(fleet)

    async def summary_state(self, fleet: str) -> tuple[list[str], str, dict[str, Any] | None]:
        return await self.inner.summary_state(fleet)

    async def anchor(self, fleet: str) -> Anchor | None:
        return await self.inner.anchor(fleet)

    async def check(self, fleet: str) -> ChainReport:
        return await self.inner.check(fleet)


def check_complete(weights: Mapping[str, int], generations: Iterable[str]) -> dict[str, int]:
    """``weights`` as a plain dict, if it names exactly ``generations`` (every one not
    retired) with whole numbers summing to 100 or all 0; else :class:`Refused`."""
    expected = list(generations)
    missing = [g for g in expected if g not in weights]
    extra = [g for g in weights if g not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unknown " + ", ".join(extra))
        raise Refused(f"set_weights needs every generation's weight ({'; '.join(parts)})")
    complete = {g: weights[g] for g in expected}
    for generation, weight in complete.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise Refused(f"weight for {generation} must be a whole number 0–100, not {weight}")
    if sum(complete.values()) not in (0, 100):
        raise Refused(f"weights must sum to 100, not {sum(complete.values())}")
    return complete


class Backend(ABC):
    """A driver for one fleet.

    Attributes:
        kind: ``"local"``, ``"aws"`` or ``"ssh"``; shown in the header and ``status``.
        hands_over_snapshots: ``watch()`` yields a
            :class:`~backends.core.events.SnapshotTaken` with every read it makes anyway (the
            polled drivers), so a watcher never needs to read again after events.
        config: the fleet, as molt.toml describes it.
    """

    kind: ClassVar[str]
    hands_over_snapshots: ClassVar[bool] = False

    def __init__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> None:
        self.config = fleet
        self.name = fleet.name
        self.state_dir = state_dir
        self._read_only = read_only
        self._journal: Journal | None = None

    @property
    def read_only(self) -> bool:
        """Fixed at construction: a read-only backend never changes the world."""
        return self._read_only

    @property
    def journal(self) -> Journal:
        """Where this fleet's audit records live (read-only: they can only be read)."""
        assert self._journal is not None, "the driver did not set its journal"
        return self._journal

    @journal.setter
    def journal(self, journal: Journal) -> None:
        self._journal = ReadOnlyJournal(journal) if self._read_only else journal

    @property
    def poll_interval(self) -> float:
        """Seconds between reads when someone waits for a change (``launch --wait``):
        the driver's own pace, so waiting costs what watching costs."""
        return 1.0

    # reads ---------------------------------------------------------------------------
    @abstractmethod
    async def snapshot(self) -> FleetSnapshot:
        """Generations (not retired, oldest first), instances, health and weights in one
        consistent read."""

    @abstractmethod
    def watch(self) -> AsyncIterator[Event]:
        """Typed events as they happen, until the consumer stops iterating. Transient
        read failures are yielded as :class:`~backends.core.events.ReadError` events rather
        than ending the stream."""

    async def differences(self, snapshot: FleetSnapshot) -> tuple[str, ...]:
        """What runs differs from molt.toml or from what Molt recorded, one line each
        naming the command that applies it: those ``snapshot`` (just read) carries, and
        those that cost another read to find (the AWS listener). A read: nothing is
        changed, in or out of read-only mode."""
        return snapshot.differences

    @abstractmethod
    async def verify(self, generation: str) -> DriftReport:
        """Compare what the generation runs with what it was launched from.

        Raises:
            NotFound: no such generation (or it is retired).
        """

    @abstractmethod
    async def frozen(self, generation: str) -> dict[str, Any]:
        """What a generation was launched from, for ``molt diff``: ``manifest`` (every
        file, link and mode of its artifact; local and ssh) and/or ``template`` (its
        launch template version's data; aws) — read from what Molt keeps about the
        launch, never from the instances' hosts."""

    async def operator(self) -> str:
        """Who is acting, as this backend's world knows them."""
        return os_operator()

    @abstractmethod
    async def logs(self, instance: str, lines: int) -> list[str]:
        """The last ``lines`` lines an instance printed, oldest first, as they were
        printed (the caller makes them safe to show).

        Raises:
            NotFound: no such instance.
        """

    @abstractmethod
    def follow(self, instance: str) -> AsyncIterator[str]:
        """Every line the instance prints from now on, until the consumer stops."""

    # writes: refused in read-only mode before the driver sees them ---------------------
    async def launch(self, spec: GenerationSpec, *, resume: str | None = None) -> Generation:
        """Start a new generation beside the others, at weight 0. Returns as soon as
        its instances are starting; health then streams through :meth:`watch`.

        The generation is recorded ``launching`` before anything is made, ``active``
        once its instances were started, ``failed`` if that could not be done — never
        an orphan that :meth:`snapshot` cannot see. ``resume`` names a generation left
        ``launching`` by a launch that was cut short: its launch is finished instead."""
        self._refuse_in_read_only("launch")
        return await self._launch(spec, resume)

    async def set_weights(self, weights: Mapping[str, int]) -> None:
        """Apply the **complete** weights: every non-retired generation, summing to 100
        (or all 0). A partial map is refused (:func:`check_complete`)."""
        self._refuse_in_read_only("shift")
        await self._set_weights(dict(weights))

    async def retire(self, generation: str) -> None:
        """Drain (bounded by the fleet's drain timeout), then destroy the generation's
        instances and resources. Its record stays in history. A generation already
        draining is resumed: the retire that was cut short is finished (or joined).
        Every driver follows :class:`Retirement`."""
        self._refuse_in_read_only("retire")
        await self._retire(generation)

    async def apply(self) -> tuple[str, ...]:
        """Make what runs match molt.toml and what Molt recorded (the differences
        :meth:`differences` reports); returns what was done, one line each (none when
        nothing differed). Refused, with the reason and nothing changed, where it would
        drop traffic. Only through :meth:`backends.engine.operations.Operations.apply`, which
        holds the fleet lock and journals it: no read ever calls it."""
        self._refuse_in_read_only("apply")
        return await self._apply()

    async def _apply(self) -> tuple[str, ...]:
        return ()  # a driver with nothing of its own to apply

    # the fleet lock: one operator at a time, where the truth lives ------------------------
    @property
    def lease_ttl(self) -> float:
        """Seconds a lease lasts unless renewed (the holder renews it while it acts):
        ``lease_ttl`` in molt.toml."""
        return float(getattr(self.config, "lease_ttl", LEASE_TTL))

    async def acquire(self, lease: Lease) -> Lease:
        """Take the fleet lock as ``lease`` says, or raise
        :class:`~backends.core.locking.Locked` naming who holds it. A lease whose holder is
        gone (expired, or its connection closed) is taken over."""
        self._refuse_in_read_only("taking the fleet lock")
        return await self._acquire(lease)

    @abstractmethod
    async def _acquire(self, lease: Lease) -> Lease: ...

    @abstractmethod
    async def renew(self, lease: Lease) -> Lease:
        """Push the lease's expiry on (``Locked`` if it was lost meanwhile)."""

    @abstractmethod
    async def release(self, lease: Lease) -> None:
        """Give the lock back (nothing happens if it is no longer ours)."""

    @abstractmethod
    async def lock_holder(self, lock: str = FLEET_LOCK) -> Lease | None:
        """Who holds ``lock`` now, if anyone (a read: allowed in read-only mode).
        Every lease names its lock: the fleet lock, or the rollout lock a process
        driving a rollout holds for as long as it runs."""

    async def lock_holders(self, locks: Sequence[str]) -> dict[str, Lease | None]:
        """Who holds each of ``locks`` (in one read, where the driver can)."""
        return {lock: await self.lock_holder(lock) for lock in locks}

    def _refuse_in_read_only(self, what: str) -> None:
        if self._read_only:
            raise read_only_refusal(what)

    @abstractmethod
    async def _launch(self, spec: GenerationSpec, resume: str | None) -> Generation: ...

    @abstractmethod
    async def _set_weights(self, weights: dict[str, int]) -> None: ...

    @abstractmethod
    async def _retire(self, generation: str) -> None: ...

    async def close(self) -> None:  # noqa: B027 - most drivers have nothing to release
        """Release connections. Never stops the fleet."""


# retiring, written once -----------------------------------------------------------------
# Every driver retires a generation the same way: start draining (refused while it
# carries traffic), drain, destroy. Each supplies the steps in its own terms (the local
# agent's proxy, HAProxy on the LB host, the ALB listener); the order, the refusal and
# the resuming of a retire cut short live here. A generation already ``draining`` was
# left so by a retire cut short (Molt or the agent killed mid-drain): retiring it again
# starts draining nothing new and finishes the job.


class Retirement(ABC):
    """One generation's retire, as one driver does it.

    Attributes:
        generation: the generation's id.
        where: what the weight it carries was read on, when that says more than the
            weight alone (AWS: ``"on the listener"``); shown in the refusal.
    """

    where: str = ""

    def __init__(self, generation: str) -> None:
        self.generation = generation

    @abstractmethod
    def held(self) -> AbstractAsyncContextManager[None]:
        """The driver's own hold on the generation while it is judged and marked: its
        lock, or its state's update; nothing can give it traffic until this ends."""

    @abstractmethod
    async def carried(self) -> int:
        """The share of traffic it carries now, in percent, as the driver reads it
        (inside :meth:`held`).

        Raises:
            NotFound: no such generation (or it is retired).
        """

    @abstractmethod
    async def mark_draining(self) -> None:
        """Take it out of traffic for good and record it ``draining`` (inside
        :meth:`held`), so a retire cut short is found and finished; nothing to do for
        one already draining."""

    @abstractmethod
    async def drain(self) -> None:
        """Let its in-flight requests finish, bounded by the fleet's drain timeout."""

    @abstractmethod
    async def destroy(self) -> None:
        """Remove its instances and what was made for it; its record stays in history."""

    async def start_draining(self) -> None:
        """Judge and mark it under the driver's hold.

        Raises:
            Refused: it still carries traffic (:func:`check_carries_no_traffic`).
        """
        async with self.held():
            check_carries_no_traffic(self.generation, await self.carried(), where=self.where)
            await self.mark_draining()

    async def finish(self) -> None:
        """Drain, then destroy: the rest of a retire once the generation is draining,
        and all that resuming one cut short needs."""
        await self.drain()
        await self.destroy()

    async def run(self) -> None:
        """The whole retire: start draining, drain, destroy."""
        await self.start_draining()
        await self.finish()
