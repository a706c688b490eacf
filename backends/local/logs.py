"""Instance output on the local backend: each instance's stdout and stderr go through a
log writer (:mod:`backends.local.logwriter`) to ``fleets/<fleet>/logs/<instance>.log``,
each line timestamped, rotated at ``CAP`` bytes to ``.log.1`` — at most two files of
``CAP`` bytes per instance; read back from the end and followed as it grows, across
rotations, without ever reading a whole file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

CAP = 2 * 1024 * 1024  # bytes one log file may reach before it is rotated
CHUNK = 64 * 1024
FOLLOW_EVERY = 0.2  # seconds between looks at a followed log
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def older(log: Path) -> Path:
    return log.with_name(log.name + ".1")


def unstamped(line: str) -> str:
    """``line`` without the timestamp the log writer put in front of it."""
    found = STAMP.match(line)
    return line[found.end() :] if found else line


def cap(log: Path, limit: int = CAP) -> bool:
    """Rotate a log past ``limit`` that no log writer rotates: an instance started by an
    agent older than log writers writes its log itself (with O_APPEND, so it goes on at
    the new end). Copied piece by piece, then emptied in place: lines written between
    the two are lost, which is why instances now write through a log writer."""
    try:
        if log.stat().st_size <= limit:
            return False
        shutil.copyfile(log, older(log))
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
    """The last ``lines`` lines, across the rotated file and the current one."""
    current, whole = _tail_bytes(log, lines)
    if whole and len(current) < lines:
        previous, _ = _tail_bytes(older(log), lines - len(current))
        current = previous + current
    return [line.decode(errors="replace") for line in current]


def _open(log: Path) -> BinaryIO | None:
    try:
        return log.open("rb")
    except FileNotFoundError:
        return None


async def follow(log: Path) -> AsyncIterator[str]:
    """Lines appended to ``log`` from now on. At a rotation the file being read is read
    to its end (the writer is done with it) before the new one is read from its start."""
    handle = _open(log)
    if handle is not None:
        handle.seek(0, os.SEEK_END)
    pending = b""
    try:
        while True:
            await asyncio.sleep(FOLLOW_EVERY)
            if handle is None:
                handle = _open(log)  # a new log: read it from its start
                if handle is None:
                    continue
            try:
                now = log.stat()
            except FileNotFoundError:
                now = None
            rotated = now is None or now.st_ino != os.fstat(handle.fileno()).st_ino
            if not rotated and now is not None and now.st_size < handle.tell():
                handle.seek(0)  # emptied in place (an instance without a log writer)
            while data := handle.read(CHUNK):
                pending += data
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line.decode(errors="replace")
            if rotated:
                handle.close()
                handle = _open(log)
    finally:
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()


def log_path(home: Path, instance: str) -> Path:
    return home / "logs" / f"{instance}.log"
