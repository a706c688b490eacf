"""Instance processes of the local backend: start detached, recognise, stop.

A process is identified by pid *and* its start time (from /proc), so a recycled pid
is never mistaken for an instance and Molt only ever signals what it started.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from backends.errors import OperationFailed

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name may hold spaces and parentheses; fields resume after the last ")"
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent's wait is missing
        return None
    return int(fields[19])


def is_running(pid: int, started: int) -> bool:
    return start_time(pid) == started


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(slots=True)
class Process:
    """A running instance process, whether started by this agent or adopted."""

    pid: int
    started: int
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None  # also reaps our own child when it exits
        return is_running(self.pid, self.started)

    def exit_code(self) -> int | None:
        return self.popen.returncode if self.popen is not None else None

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def spawn(command: str, *, port: int, cwd: Path, env: dict[str, str], log: Path) -> Process:
    """Start ``command`` (``{port}``/``{python}`` filled in) in its own session, so it
    outlives the agent."""
    argv = shlex.split(command.format(port=port, python=shlex.quote(sys.executable)))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        try:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, **env, "PORT": str(port)},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as error:
            raise OperationFailed(f"cannot start {argv[0]!r}: {error.strerror}") from error
    started = start_time(popen.pid)
    if started is None:  # exited at once; keep the Popen so its exit code is seen
        return Process(pid=popen.pid, started=-1, popen=popen)
    return Process(pid=popen.pid, started=started, popen=popen)


def stop(processes: list[Process], grace: float = STOP_GRACE) -> None:
    """SIGTERM, then SIGKILL whatever is still running after ``grace`` seconds."""
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.alive() for p in processes):
        time.sleep(0.05)
    for process in processes:
        process.signal(signal.SIGKILL)
    for process in processes:
        if process.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=2)
