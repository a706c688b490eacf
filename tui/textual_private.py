"""Every use of Textual's private API in Molt, in one place; each has no public
equivalent, and ``tests/tui/test_textual_private.py`` fails when Textual changes it.

1. A fix for Textual's timer, applied when Molt's TUI starts (Textual 8.2).

When a repeating timer with ``skip`` falls behind — the screen's update timer does, each
time it resumes after an idle moment — Textual computes the next tick one interval too
late (``count = int(elapsed / interval + 1)``, then ticks at ``count + 1``). A key
pressed just after a fleet update then waits one or two extra frames (17–33 ms) before
it shows: most of the keystroke → paint tail of ``tests/benchmarks/tui_scale.py``.

This replaces ``Timer._run`` with the same loop, skipping to the *next* boundary. It is
applied only to the Textual release it was written against (the method's source is
checked), so a Textual that changes it is left alone.

2. One line instead of a traceback when Molt itself has a bug. Textual shows an
unhandled exception from ``App._fatal_error`` (called by ``App._handle_exception``) and
offers no public hook; :func:`one_line_fatal_errors` replaces it on one app.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from typing import Any

from textual import _time
from textual._time import sleep
from textual.app import App
from textual.timer import EventTargetGone, Timer

#: sha256 of ``Timer._run``'s source in the Textual releases this fix was made for
KNOWN_SOURCES = frozenset({"60c942a84c1a8765932ea4fe897d61a94d0a74dcd249ec0b4a6aad75757ade50"})


async def _run(self: Timer) -> None:
    """Run the timer (Textual's loop; a timer that fell behind ticks at the next
    interval boundary, not one interval after it)."""
    count = 0
    _repeat = self._repeat
    _interval = self._interval
    self._active  # noqa: B018 - force instantiation in the same thread, as Textual does
    await self._active.wait()
    start = _time.get_time()
    while _repeat is None or count <= _repeat:
        next_timer = start + ((count + 1) * _interval)
        now = _time.get_time()
        if self._skip and next_timer < now:
            count = int((now - start) / _interval)  # Textual adds 1 here: a frame late
            continue
        now = _time.get_time()
        await sleep(max(0, next_timer - now))
        count += 1
        await self._active.wait()
        if self._reset:
            start = _time.get_time()
            count = 0
            self._reset = False
            continue
        try:
            await self._tick(next_timer=next_timer, count=count)
        except EventTargetGone:
            break


def source_digest() -> str:
    return hashlib.sha256(inspect.getsource(Timer._run).encode()).hexdigest()


def fix_timer() -> bool:
    """Put the fixed loop in place, if this Textual is one it was made for."""
    if Timer._run is _run:
        return True
    if source_digest() not in KNOWN_SOURCES:
        return False
    Timer._run = _run  # type: ignore[method-assign]
    return True


def one_line_fatal_errors(app: App[Any], line: Callable[[BaseException], str | None]) -> None:
    """On ``app``, an unhandled exception ends Molt with ``line(exception)`` (one line,
    no traceback); where ``line`` returns None, Textual's own traceback."""
    textual_fatal_error = app._fatal_error

    def fatal_error() -> None:
        error = app._exception
        said = line(error) if error is not None else None
        if said is None:
            textual_fatal_error()
            return
        app.bell()
        app._exit_renderables.append(said)
        app._close_messages_no_wait()

    setattr(app, "_fatal_error", fatal_error)  # noqa: B010 - mypy refuses assigning a method
