"""The real ``molt`` in a real terminal (tmux, 120×36), driven as a person would:
read the screen, press keys, and check the CLI agrees afterwards."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.local import molt, wait_for
from tests.support.terminal import Terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (make system-deps)"),
]


def test_molt_in_tmux_follows_the_cli_and_acts_by_keys(state_dir: Path, terminal: Terminal):
    binary = Path(sys.executable).with_name("molt")
    # COLUMNS/LINES can leak in from the test runner's environment and would override
    # the 120×36 window the app really has
    command = (  # --fleet: straight to the web fleet's view (the estate has its own test)
        f"env -u COLUMNS -u LINES MOLT_STATE_DIR={shlex.quote(str(state_dir))} {binary} --fleet web"
    )
    terminal.start(f"{command}; echo molt exited $?; sleep 600")
    # a fresh state dir: the demo fleet launches g1 on first use, with progress shown
    terminal.shows("g1  v1", "LIVE", "2/2 healthy", "weight 100%", timeout=60)

    launched = molt(state_dir, "launch", "web", "--version", "v2", "--wait")
    assert launched.returncode == 0, launched.stderr
    terminal.shows("g2  v2", "launch v2 → g2")  # no key pressed: it streamed in
    wait_for(lambda: terminal.screen().count("2/2 healthy") == 2, timeout=15)

    terminal.press("Right", "p")
    terminal.shows("Promote g2?")
    terminal.press("y")
    screen = terminal.shows("promote g2")
    wait_for(lambda: _weights(terminal.screen()) == ["0%", "100%"], timeout=15)

    terminal.press("Left", "r")
    terminal.shows("Type g1 to confirm")
    terminal.press("g", "1", "Enter")
    terminal.gone("g1  v1", timeout=30)

    status = json.loads(molt(state_dir, "status", "web", "--json").stdout)
    assert [(g["id"], g["weight"]) for g in status["generations"]] == [("g2", 100)]

    terminal.press("q")
    screen = terminal.shows("molt exited 0")
    assert "the web fleet keeps running" in screen


def _weights(screen: str) -> list[str]:
    """The weight of each column, left to right, from the first row that shows them."""
    for line in screen.splitlines():
        if line.count("weight ") >= 2:
            return [part.split()[0] for part in line.split("weight ")[1:]]
    return []
