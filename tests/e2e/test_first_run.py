"""The real ``molt`` binary as a newcomer first meets it: ``--version``, and ``molt``
run where there is no terminal (a script, a pipe, cron)."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

BINARY = str(Path(sys.executable).with_name("molt"))


def test_version_prints_the_package_version(state_dir: Path):
    done = subprocess.run(
        [BINARY, "--version"],
        env={**os.environ, "MOLT_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"molt [0-9]+\.[0-9]+\.[0-9]+\n", done.stdout)
    assert done.stdout == f"molt {metadata.version('molt')}\n"
    assert done.stderr == ""
    assert not any(state_dir.iterdir()), "--version started something"


@pytest.mark.parametrize("tty", ["neither", "stdin only"])
def test_molt_without_a_terminal_names_the_commands_and_exits_2(
    state_dir: Path, tmp_path: Path, tty: str
):
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    primary, secondary = pty.openpty()  # a terminal on stdin, when asked for
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    try:
        with out.open("wb") as stdout, err.open("wb") as stderr:
            stdin = secondary if tty == "stdin only" else subprocess.DEVNULL
            started = time.monotonic()
            process = subprocess.Popen(
                [BINARY],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env={**env, "MOLT_STATE_DIR": str(state_dir), "TERM": "xterm-256color"},
                cwd=tmp_path,
            )
            try:
                code = process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"molt without a terminal still ran after 1 s ({out.stat().st_size} B)")
            elapsed = time.monotonic() - started
    finally:
        os.close(primary)
        os.close(secondary)
    assert code == 2
    assert elapsed < 1.0
    assert out.read_bytes() == b""  # no escape sequences, nothing at all
    hint = err.read_text()
    assert "\x1b" not in hint
    assert hint.count("\n") == 1, hint
    assert "molt status" in hint and "molt watch" in hint
    assert not any(state_dir.iterdir()), "molt without a terminal started something"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (make system-deps)")
def test_molt_redirected_in_a_real_terminal_exits_2_at_once(state_dir: Path, tmp_path: Path):
    """The report's own words: ``molt < /dev/null > out.txt`` typed in a terminal (tmux)
    hung, writing escape sequences into the file. It exits 2 within a second, the hint
    on the terminal, the file empty."""
    socket = f"molt-first-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    out, rc = tmp_path / "out.txt", tmp_path / "rc"
    # the shell times molt itself, so tmux's own start-up is not counted
    command = (
        f"export MOLT_STATE_DIR={state_dir}; cd {tmp_path}; s=$(date +%s%N); "
        f"{BINARY} < /dev/null > {out}; c=$?; e=$(date +%s%N); "
        f"echo $c $(( (e - s) / 1000000 )) > {rc}.tmp; mv {rc}.tmp {rc}; sleep 30"
    )

    def tmux(*args: str) -> str:
        done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)
        return done.stdout

    try:
        tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "first", command)
        deadline = time.monotonic() + 20
        while not rc.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rc.exists(), f"molt still ran after 20 s:\n{tmux('capture-pane', '-p')}"
        code, millis = rc.read_text().split()
        screen = tmux("capture-pane", "-p", "-J", "-t", "first")  # -J: wrapped lines joined
    finally:
        tmux("kill-server")
    assert code == "2"
    assert int(millis) < 1000, f"took {millis} ms"
    assert out.read_bytes() == b""
    assert "molt status" in screen and "molt watch" in screen, screen
    assert not any(state_dir.iterdir()), "molt without a terminal started something"
