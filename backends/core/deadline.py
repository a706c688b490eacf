"""Waiting with a bound: the one helper behind every "until X, at most T seconds" loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator


class Deadline:
    """``seconds`` from now, on the monotonic clock.

    ``async for _ in Deadline(30).every(0.5): ...`` runs the body at once, then every
    half second, and stops once 30 s have passed (the caller decides what running out
    means: ``if deadline.expired: raise ...``).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    @property
    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end

    async def every(self, interval: float) -> AsyncIterator[None]:
        """Yield at once, then every ``interval`` seconds until the deadline; the last
        wait is cut short so the final look happens at the deadline itself."""
        while True:
            yield
            if self.expired:
                return
            await asyncio.sleep(min(interval, self.left))
