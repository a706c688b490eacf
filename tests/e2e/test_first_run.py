"""The real ``molt`` binary as a newcomer first meets it: ``--version``, and ``molt``
run where there is no terminal (a script, a pipe, cron)."""

from __future__ import annotations

import os
import pty
import re
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
