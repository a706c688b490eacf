"""The small process between an instance's output and its log file.

``python -I -S logwriter.py LOG CAP`` reads the instance's stdout and stderr from a pipe
(its own stdin), puts a UTC timestamp in front of every line and appends to ``LOG``;
when the next piece would take ``LOG`` past ``CAP`` bytes it renames ``LOG`` to
``LOG.1`` (replacing the older one) and starts a new ``LOG``, at a line boundary. So an
instance never has more than two files of at most ``CAP`` bytes each, no line is lost
to the rotation, and nothing ever reads a whole log.

It runs in a session of its own, outside the instance's process group (stopping the
instance does not stop it), and ends when the pipe closes: when the instance and
everything it started have exited — so it outlives a restarted agent as the instance
does. Standard library only, run by path with ``-I -S``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

READ = 64 * 1024


def stamp(now: float) -> bytes:
    """``2026-12-07T03:40:41.123Z `` for ``now`` (seconds since the epoch)."""
    whole = int(now)
    return b"%s.%03dZ " % (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)).encode(),
        int((now - whole) * 1000),
    )


class Writer:
    def __init__(self, path: str, cap: int) -> None:
        self.path, self.cap = path, cap
        self.fd = -1
        self.size = 0
        self.line_start = True  # the next byte begins a line (and gets a timestamp)
        self._open()

    def _open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.size = os.fstat(self.fd).st_size
        if self.size:
            with open(self.path, "rb") as log:
                log.seek(self.size - 1)
                if log.read(1) != b"\n":  # an earlier writer left a line unfinished
                    self._write(b"\n")

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)

    def _rotate(self) -> None:
        os.close(self.fd)
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile: start again
            os.replace(self.path, self.path + ".1")
        self._open()

    def take(self, data: bytes, now: float) -> None:
        """Timestamp ``data``'s lines and append them, rotating as the cap says."""
        mark = stamp(now)
        ends_line = data.endswith(b"\n")
        body = data[:-1] if ends_line else data
        text = body.replace(b"\n", b"\n" + mark) + (b"\n" if ends_line else b"")
        if self.line_start:
            text = mark + text
        self.line_start = ends_line
        while len(text) > self.cap - self.size:
            cut = text.rfind(b"\n", 0, self.cap - self.size) + 1
            if cut == 0 and self.size == 0:
                cut = self.cap  # one line longer than a whole file: cut it
            if cut:
                self._write(text[:cut])
                text = text[cut:]
            self._rotate()
        if text:
            self._write(text)

    def run(self, source: int) -> None:
        while True:
            try:
                data = os.read(source, READ)
            except InterruptedError:  # pragma: no cover (PEP 475 retries)
                continue
            if not data:
                return
            self.take(data, time.time())


def main(argv: list[str]) -> None:
    path, cap = argv[1], int(argv[2])
    try:
        Writer(path, cap).run(0)
    except OSError as error:
        # the log cannot be written (disk full, directory gone): keep the pipe drained so
        # the instance is not blocked or killed by its own output
        sys.stderr.write(f"molt log writer: {error}\n")
        while os.read(0, READ):
            pass


if __name__ == "__main__":
    main(sys.argv)
