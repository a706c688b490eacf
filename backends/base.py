"""The contract every driver implements (local, aws, ssh).

A driver only reads and acts; it never decides whether an action is allowed. That
is the job of :mod:`backends.guards`, applied by :class:`backends.operations.Operations`,
the one door every mutation goes through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

from backends.journal import Journal, os_operator
from backends.model import DriftReport, Event, FleetRef, FleetSnapshot, Generation, GenerationSpec


class Backend(ABC):
    """A driver for fleets of one kind.

    Attributes:
        kind: ``"local"``, ``"aws"`` or ``"ssh"``; shown in the header and ``status``.
        journal: where this backend keeps its audit records.
        read_only: whether reads may repair drift they find (they may not when set).
    """

    kind: ClassVar[str]
    journal: Journal
    #: set by :func:`backends.registry.open_backend`: a read-only backend never changes
    #: the world, not even to repair it (e.g. re-applying HAProxy's state after a reload)
    read_only: bool = False

    @abstractmethod
    async def fleets(self) -> list[FleetRef]:
        """The fleets this backend serves."""

    @abstractmethod
    async def snapshot(self, fleet: str) -> FleetSnapshot:
        """Generations (not retired, oldest first), instances, health and weights in one
        consistent read.

        Raises:
            NotFound: no such fleet.
        """

    @abstractmethod
    def watch(self, fleet: str) -> AsyncIterator[Event]:
        """Health transitions, state and weight changes, operator actions — as they
        happen, until the consumer stops iterating. Transient read failures are yielded
        as ``EventKind.ERROR`` events rather than ending the stream."""

    @abstractmethod
    async def launch(self, fleet: str, spec: GenerationSpec) -> Generation:
        """Start a new generation beside the others, at weight 0. Returns as soon as
        its instances are starting; health then streams through :meth:`watch`.

        A launch that fails part way removes what it created, or leaves it visible
        as a ``failed`` generation that can be retired — never an orphan."""

    @abstractmethod
    async def set_weights(self, fleet: str, weights: Mapping[str, int]) -> None:
        """Apply complete weights (every non-retired generation, summing to 100 or all 0)."""

    @abstractmethod
    async def retire(self, fleet: str, generation: str) -> None:
        """Drain (bounded by the fleet's drain timeout), then destroy the generation's
        instances and resources. Its record stays in history."""

    @abstractmethod
    async def verify(self, fleet: str, generation: str) -> DriftReport:
        """Compare what the generation runs with what it was launched from."""

    async def operator(self) -> str:
        """Who is acting, as this backend's world knows them."""
        return os_operator()

    async def close(self) -> None:  # noqa: B027 - most drivers have nothing to release
        """Release connections. Never stops the fleet."""
