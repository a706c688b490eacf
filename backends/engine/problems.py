"""What keeps a session from reading its fleet, shown while it lasts: one line per thing
that failed (the read, the watch, the history…), each retried with a growing pause."""

from __future__ import annotations

import asyncio

from backends.engine.updates import Listener, ProblemChanged, describe

RETRY_MAX = 10.0  # seconds: the longest pause between two tries


class Backoff:
    """The pause before the next try: 1 s, 2 s, 4 s… up to :data:`RETRY_MAX`."""

    def __init__(self) -> None:
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return float(min(RETRY_MAX, 0.5 * 2**self.failures))

    def reset(self) -> None:
        self.failures = 0


class Problems:
    """The problems of one session by what failed; listeners hear every change as
    :class:`ProblemChanged` (all of them in one line, "" once none is left)."""

    def __init__(self, tell: Listener) -> None:
        self._tell = tell
        self._by_what: dict[str, str] = {}

    @property
    def text(self) -> str:
        return "; ".join(self._by_what.values())

    @property
    def reading(self) -> str:
        """Only what keeps the session from reading its fleet: not a webhook that fails
        (the notifier's problems are set as ``notify…``)."""
        return "; ".join(t for what, t in self._by_what.items() if not what.startswith("notify"))

    def set(self, what: str, text: str) -> None:
        if self._by_what.get(what) != text:
            self._by_what[what] = text
            self._tell(ProblemChanged(self.text))

    def clear(self, what: str) -> None:
        if self._by_what.pop(what, None) is not None:
            self._tell(ProblemChanged(self.text))

    async def failed(self, what: str, error: BaseException, backoff: Backoff) -> None:
        """Show that ``what`` failed and when it is tried again, then wait until then."""
        title, message = describe(error)
        delay = backoff.next()
        self.set(what, f"{title}: {message} — retrying in {delay:.0f} s")
        await asyncio.sleep(delay)
