"""Instance output on the local backend: each instance's stdout and stderr go to
``fleets/<fleet>/logs/<instance>.log``, capped in size (the older half moves to
``.log.1``), read back from the end and followed as it grows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

CAP = 4 * 1024 * 1024  # bytes a log may reach before its older part is set aside
CHUNK = 64 * 1024
FOLLOW_EVERY = 0.2  # seconds between looks at a followed log


def older(log: Path) -> Path:
    return log.with_name(log.name + ".1")


def cap(log: Path, limit: int = CAP) -> bool:
    """Move a log past ``limit`` to ``.log.1`` and empty it in place: the instance
    writes with O_APPEND, so it goes on writing at the (new) end."""
    try:
        if log.stat().st_size <= limit:
            return False
        data = log.read_bytes()
        older(log).write_bytes(data)
        with log.open("r+b") as handle:
            handle.truncate(0)
        return True
    except OSError:
        return False


def _tail_bytes(path: Path, wanted: int) -> tuple[list[bytes], bool]:
    """Up to ``wanted`` last lines of one file (and whether the file was read whole)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], True
    with path.open("rb") as handle:
        position, data = size, b""
        while position > 0 and data.count(b"\n") <= wanted:
            step = min(CHUNK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    whole = position == 0
    if not whole:
        lines = lines[1:]  # the first one is cut
    return lines[-wanted:] if wanted else [], whole


def tail(log: Path, lines: int) -> list[str]:
    """The last ``lines`` lines, across the set-aside part and the current one."""
    current, whole = _tail_bytes(log, lines)
    if whole and len(current) < lines:
        previous, _ = _tail_bytes(older(log), lines - len(current))
        current = previous + current
    return [line.decode(errors="replace") for line in current]


async def follow(log: Path) -> AsyncIterator[str]:
    """Lines appended to ``log`` from now on (surviving a cap in between)."""
    position = log.stat().st_size if log.exists() else 0
    pending = b""
    while True:
        await asyncio.sleep(FOLLOW_EVERY)
        try:
            size = log.stat().st_size
        except FileNotFoundError:
            continue
        if size < position:  # capped meanwhile: it starts again from the top
            position = 0
        if size == position:
            continue
        with log.open("rb") as handle:
            handle.seek(position)
            data = handle.read(size - position)
        position += len(data)
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace")


def log_path(home: Path, instance: str) -> Path:
    return home / "logs" / f"{instance}.log"
