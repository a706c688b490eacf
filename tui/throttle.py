"""Leading- and trailing-edge throttling on the event loop: however often something is
asked for, it runs at most once per interval, and the last request is never lost."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.message_pump import MessagePump
from textual.timer import Timer


class Throttle:
    """Run ``callback`` soon if it has not run for ``interval`` seconds, else once when
    the interval is over. It always runs in ``owner``'s own message loop (never inside
    the caller, which may be a session's task), so a failure is the app's to report."""

    def __init__(self, owner: MessagePump, interval: float, callback: Callable[[], None]) -> None:
        self.owner = owner
        self.interval = interval
        self.callback = callback
        self._last = float("-inf")
        self._timer: Timer | None = None
        self._queued = False

    def touch(self) -> None:
        if self._timer is not None or self._queued:
            return  # already due: this request rides along
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self._queued = True
            self.owner.call_next(self._fire_queued)
        else:
            self._timer = self.owner.set_timer(wait, self._fire, name="throttle")

    def _fire_queued(self) -> None:
        if self._queued:  # not cancelled meanwhile
            self._fire()

    def _fire(self) -> None:
        self._timer = None
        self._queued = False
        self._last = time.monotonic()
        if self.owner.app.is_running:  # not while the app takes its widgets down
            self.callback()

    def cancel(self) -> None:
        self._queued = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
