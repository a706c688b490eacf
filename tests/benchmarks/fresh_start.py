"""A newcomer's first minute: ``git clone`` then ``make run``, timed until both demo
fleets' g1 is live on the estate screen — ``g1 v1 100%`` with ``2/2`` healthy on the
``web`` and the ``api`` rows (tmux, 120×36, a fresh state dir, pip's cache as this
machine has it).

Run: .venv/bin/python tests/benchmarks/fresh_start.py [--repo PATH_OR_URL] [--runs 1]

The clone is of ``--repo`` (default: this checkout's committed HEAD). Its venv, its
tmux server and its demo fleet (agent, instances) are removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_FLEETS = ("web", "api")


def live(screen: str) -> bool:
    """Whether every demo fleet's row on the estate shows g1 carrying all the traffic,
    both instances healthy."""
    rows = [line.strip().strip("│").split() for line in screen.splitlines()]
    return all(
        any(
            row[:1] == [fleet] and "2/2" in row and " ".join(row).count("g1 v1 100%")
            for row in rows
        )
        for fleet in DEMO_FLEETS
    )


TIMEOUT = 300.0


def once(repo: str) -> float:
    work = Path(tempfile.mkdtemp(prefix="molt-fresh-"))
    clone, state = work / "molt", work / "state"
    socket = f"molt-fresh-{uuid.uuid4().hex[:8]}"

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", socket, *args], capture_output=True, text=True, check=True
        ).stdout

    command = (
        f"cd {shlex.quote(str(work))} && git clone -q {shlex.quote(repo)} molt && cd molt && "
        f"env -u COLUMNS -u LINES MOLT_STATE_DIR={shlex.quote(str(state))} make run"
    )
    start = time.monotonic()
    tmux("new-session", "-d", "-x", "120", "-y", "36", "-s", "fresh", command)
    pane = int(tmux("display-message", "-p", "-t", "fresh", "#{pane_pid}"))
    try:
        while not live(tmux("capture-pane", "-p", "-t", "fresh")):
            if time.monotonic() - start > TIMEOUT:
                raise SystemExit(f"no live demo after {TIMEOUT:.0f} s")
            time.sleep(0.1)
        return time.monotonic() - start
    finally:
        # the pane's shell, make and molt share one process group: end them all, then
        # the agent and its instances, then the clone (frozen trees are read-only)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pane, signal.SIGTERM)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        molt = clone / ".venv" / "bin" / "molt"
        if molt.exists():
            subprocess.run(
                [str(molt), "agent", "stop", "--yes"],
                env={**os.environ, "MOLT_STATE_DIR": str(state)},
                capture_output=True,
                timeout=60,
            )
        subprocess.run(["chmod", "-R", "u+w", str(work)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        socket_file = Path(f"/tmp/tmux-{os.getuid()}") / socket
        socket_file.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT), help="what to clone (default: here)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        print(f"run {run}: clone → both demo fleets live in {once(args.repo):.1f} s", flush=True)


if __name__ == "__main__":
    main()
