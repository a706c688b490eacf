"""Starting, waiting for and stopping the rig's processes (by pid, only our own)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

DEPLOY_USER = "molt-deploy"
SSHD = "/usr/sbin/sshd"
HAPROXY = "/usr/sbin/haproxy"
START = "python3 app.py --port {port} --host {address}"
# each test run (the pytest process that started it) and each of its pytest-xdist
# workers its own loopback addresses, 127.R.W.x: two runs on one machine never share one
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_RUN = os.getppid() if _WORKER else os.getpid()
NET = f"127.{_RUN % 250 + 1}.{(_WORKER or 'gw0').removeprefix('gw')}"
TEST_ADDRESSES = [f"{NET}.{n}" for n in range(10, 61)]
DOWN_ADDRESS = f"{NET}.59"  # nothing ever listens here


def missing_parts() -> str:
    """Why this machine cannot run the rig ("" when it can)."""
    if os.geteuid() != 0:
        return "needs root (it starts sshd hosts in their own mount namespaces)"
    for tool in (SSHD, HAPROXY, "/usr/bin/unshare"):
        if not Path(tool).exists():
            return f"needs {tool} (apt-get install openssh-server haproxy)"
    return ""


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def wait_listening(address: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited at start: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection((address, port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{address}:{port} not listening after 15 s")


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (an sshd's per-connection processes and theirs)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
                parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found += below
        todo += below
    return found
