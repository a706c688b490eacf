"""Bounded waits on a condition: a test never sleeps and hopes that something happened;
it waits for what it needs, and fails naming it when that never comes."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _gave_up(timeout: float, what: object, last: object) -> AssertionError:
    return AssertionError(f"gave up after {timeout} s waiting for {what}; last seen: {last!r}")


async def until(
    probe: Callable[[], T | Awaitable[T]],
    holds: Callable[[T], object] = bool,
    *,
    timeout: float = 10.0,
    every: float = 0.05,
    what: str | None = None,
) -> T:
    """What ``probe()`` (plain or async) returns, once ``holds`` of it.

    Raises:
        AssertionError: after ``timeout`` seconds, naming ``what`` (else the probe's
            docstring or the probe) and the last value seen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value: Any = probe()
        if inspect.isawaitable(value):
            value = await value
        if holds(value):
            return value  # type: ignore[no-any-return]
        if loop.time() >= deadline:
            raise _gave_up(timeout, what or probe.__doc__ or probe, value)
        await asyncio.sleep(every)


def wait_for(
    probe: Callable[[], T],
    timeout: float = 30.0,
    every: float = 0.1,
    *,
    holds: Callable[[T], object] = bool,
    what: str | None = None,
) -> T:
    """:func:`until` for code without an event loop (subprocesses, files): what
    ``probe()`` returns once ``holds`` of it; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if holds(value):
            return value
        if time.monotonic() > deadline:
            raise _gave_up(timeout, what or probe.__doc__ or probe, value)
        time.sleep(every)
