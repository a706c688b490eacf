"""Two operators at the same instant: ``molt`` commands started in separate processes
that have already loaded Molt and then wait for one shared moment to run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

LAUNCHER = (
    "import sys, time\n"
    "from tui.cli.main import main\n"
    "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def at_once(
    commands: list[list[str]], *, state_dir: Path, config: Path | None = None, delay: float = 3.0
) -> list[subprocess.CompletedProcess[str]]:
    """Run each ``molt`` argument list in its own process, all at the same instant."""
    moment = str(time.time() + delay)
    prefix = ["--config", str(config)] if config is not None else []
    env = {**os.environ, "MOLT_STATE_DIR": str(state_dir)}
    running = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, moment, *prefix, *args],
            env=env,
            cwd=state_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    done = []
    for process, args in zip(running, commands, strict=True):
        out, err = process.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return done


def one_won(done: list[subprocess.CompletedProcess[str]]) -> tuple[int, str]:
    """(index of the command that applied, what the other said): exactly one applied,
    the other exited 1 with one line naming who held the fleet."""
    codes = sorted(d.returncode for d in done)
    assert codes == [0, 1], [(d.args, d.returncode, d.stderr) for d in done]
    winner = next(i for i, d in enumerate(done) if d.returncode == 0)
    (said,) = done[1 - winner].stderr.strip().splitlines()
    assert "is locked by" in said and "since" in said, said
    return winner, said
