"""Instance processes of the local backend: start detached, recognise, stop — whole.

Each instance runs in its own session, so it leads its own process group: whatever it
starts (``sh -c``, npm, a pipe) stays in that group, and stopping the instance stops
the group (SIGTERM, a grace period, SIGKILL for what is left).

A leader is identified by pid *and* start time (from /proc), so a recycled pid is never
taken for an instance; the rest of its group by the group id *and* the instance's mark
in their environment (``MOLT_FLEET``, ``MOLT_INSTANCE``), so Molt only ever signals what
it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from backends.core.errors import OperationFailed
from backends.local import logs, logwriter

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name may hold spaces and parentheses; fields resume after the last ")"
    return stat[stat.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] == "Z":  # a zombie has exited; only its wait is left
        return None
    return int(fields[19])


def is_running(pid: int, started: int) -> bool:
    return start_time(pid) == started


def group_members(pgid: int, marks: Iterable[str]) -> list[int]:
    """Live processes of group ``pgid`` that carry every one of ``marks``
    (``NAME=value`` in their environment)."""
    wanted = [m.encode() for m in marks]
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] == "Z" or int(fields[2]) != pgid:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(mark in environ for mark in wanted):
            members.append(int(entry.name))
    return members


def last_line(log: Path, tail: int = 4096) -> str:
    """The last line an instance printed (its log's last non-blank line), shortened."""
    try:
        with log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - tail))
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [logs.unstamped(line).strip() for line in lines]
    text = next((line for line in reversed(lines) if line), "")
    return text if len(text) <= 200 else text[:199] + "…"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def marks(home: Path, fleet: str, instance: str) -> tuple[str, ...]:
    """What every process of an instance carries in its environment: the fleet's home
    too, so that another Molt's fleet of the same name (another state directory on the
    machine) is never taken for a stray of this one."""
    return (f"MOLT_HOME={home.resolve()}", f"MOLT_FLEET={fleet}", f"MOLT_INSTANCE={instance}")


@dataclass(slots=True)
class Process:
    """A running instance — its group's leader, started by this agent or adopted."""

    pid: int
    started: int
    popen: subprocess.Popen[bytes] | None = None
    marks: tuple[str, ...] = ()
    #: its log writer, when this agent started it
    writer: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        """Whether the leader still runs (what supervising the instance watches)."""
        if self.popen is not None:
            return self.popen.poll() is None  # also reaps our own child when it exits
        return is_running(self.pid, self.started)

    def group(self) -> list[int]:
        """Every live process of the instance: the leader and what it started."""
        members = group_members(self.pid, self.marks) if self.marks else []
        if self.alive() and self.pid not in members:
            members.append(self.pid)
        return members

    def exit_code(self) -> int | None:
        return self.popen.returncode if self.popen is not None else None

    def signal(self, signum: int) -> None:
        """``signum`` to the instance's whole group, if anything of it still runs."""
        if self.group():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)


def spawn(
    argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, marks: tuple[str, ...]
) -> Process:
    """Start ``argv`` in its own session (so it outlives the agent and leads a group of
    its own), its output through a log writer into ``log`` (timestamped, rotated: see
    :mod:`backends.local.logwriter`), its ``marks`` in its environment."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()  # there from now on, before the writer has started
    reading, writing = os.pipe()
    try:
        writer = start_log_writer(reading, log)
        try:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, **env, **dict(m.split("=", 1) for m in marks)},
                stdin=subprocess.DEVNULL,
                stdout=writing,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as error:
            raise OperationFailed(f"cannot start {argv[0]!r}: {error.strerror}") from error
    finally:
        os.close(reading)
        os.close(writing)
    started = start_time(popen.pid)
    # exited at once: keep the Popen so its exit code is seen
    return Process(
        pid=popen.pid,
        started=-1 if started is None else started,
        popen=popen,
        marks=marks,
        writer=writer,
    )


#: log writers this agent started and has not seen exit yet (reaped as they do)
_writers: set[subprocess.Popen[bytes]] = set()


def start_log_writer(pipe: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the process that writes what comes out of ``pipe`` into ``log`` (not
    waited for: it starts while the instance does)."""
    reap_writers()
    script = Path(logwriter.__file__)
    try:
        writer = subprocess.Popen(
            [sys.executable, "-I", "-S", str(script), str(log), str(logs.CAP)],
            stdin=pipe,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise OperationFailed(f"cannot start the log writer for {log.name}: {error}") from error
    _writers.add(writer)
    return writer


def reap_writers() -> None:
    for writer in [w for w in _writers if w.poll() is not None]:
        _writers.discard(writer)


async def writer_done(process: Process, timeout: float = 0.5) -> None:
    """Wait (a little) for an exited instance's log writer to write its last lines."""
    writer = process.writer
    deadline = time.monotonic() + timeout
    while writer is not None and writer.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    reap_writers()


def stop(processes: list[Process], grace: float = STOP_GRACE) -> None:
    """SIGTERM each instance's group, then SIGKILL whatever of it still runs after
    ``grace`` seconds."""
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.group() for p in processes):
        time.sleep(0.05)
    for process in processes:
        process.signal(signal.SIGKILL)
    for process in processes:
        if process.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=2)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(p.group() for p in processes):
        time.sleep(0.05)  # SIGKILL is quick, but not instant


def strays(instance_marks: tuple[str, ...]) -> list[Process]:
    """Process groups carrying an instance's marks that nobody recorded: started by an
    agent that died before it could write their pid down."""
    wanted = [m.encode() for m in instance_marks]
    groups: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and fields[0] != "Z" and all(m in environ for m in wanted):
            groups.add(int(fields[2]))
    return [Process(pid=g, started=start_time(g) or -1, marks=instance_marks) for g in groups]


def python() -> str:
    """The interpreter the agent runs on: ``{python}`` in start commands."""
    return sys.executable
