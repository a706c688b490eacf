"""How every driver retires a generation, written once: start draining (refused while it
carries traffic), drain, destroy. Each driver supplies the steps in its own terms
(the local agent's proxy, HAProxy on the LB host, the ALB listener); the order, the
refusal and the resuming of a retire that was cut short live here.

A generation already ``draining`` was left so by a retire cut short (Molt or the agent
killed mid-drain): retiring it again starts draining nothing new and finishes the job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager

from backends.core.guards import check_carries_no_traffic


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
