"""The estate in a real terminal: the real ``molt`` with a molt.toml of two local fleets
opens on the estate (a row each), enter opens a fleet, escape comes back to it."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest

from backends.local.demo import demo_artifact
from backends.local.processes import free_port
from tests.support.local import molt, wait_for
from tests.support.terminal import Terminal

FLEETS = ("web", "api")  # the built-in demo's
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (make system-deps)"),
]


def two_fleets(path: Path) -> Path:
    path.write_text(
        "".join(
            f"[fleets.{name}]\n"
            f'listen = "127.0.0.1:{free_port()}"\n'
            f'artifact = "{demo_artifact()}"\n'
            'start = "{python} app.py --port {port}"\n'
            "count = 1\n\n"
            for name in ("web", "api")
        )
    )
    return path


def test_the_estate_shows_both_fleets_enter_opens_one_escape_returns(
    state_dir: Path, terminal: Terminal
):
    config = two_fleets(state_dir / "molt.toml")
    for fleet, version in (("web", "v1"), ("api", "v7")):  # api changed last: its row on top
        launched = molt(state_dir, "launch", fleet, "--version", version, "--wait", config=config)
        assert launched.returncode == 0, launched.stderr
        assert molt(state_dir, "promote", fleet, "g1", config=config).returncode == 0
    binary = Path(sys.executable).with_name("molt")
    command = (
        f"env -u COLUMNS -u LINES MOLT_STATE_DIR={shlex.quote(str(state_dir))} "
        f"{binary} --config {shlex.quote(str(config))}"
    )
    terminal.start(f"{command}; echo molt exited $?; sleep 600")
    screen = terminal.shows("estate · 2 fleets", "g1 v1 100%", "g1 v7 100%", timeout=60)
    rows = [line for line in screen.splitlines() if "g1 v" in line]
    assert "api" in rows[0] and "local" in rows[0] and "1/1" in rows[0]
    assert "web" in rows[1] and "1/1" in rows[1]

    terminal.press("Enter")  # the top row: api
    terminal.shows("api · local", "g1  v7", "LIVE", "weight 100%")
    terminal.press("Escape")
    terminal.shows("estate · 2 fleets", "g1 v1 100%")
    terminal.press("Down", "Enter")  # the row below: web, then back with the row kept
    terminal.shows("web · local", "g1  v1")
    terminal.press("Escape")
    terminal.shows("estate · 2 fleets")
    terminal.press("Enter")
    terminal.shows("web · local", "g1  v1")

    terminal.press("q")
    terminal.shows("molt exited 0")


def test_plain_molt_opens_the_estate_of_both_demo_fleets_each_started(
    state_dir: Path, terminal: Terminal
):
    binary = Path(sys.executable).with_name("molt")
    terminal.start(
        f"env -u COLUMNS -u LINES MOLT_STATE_DIR={shlex.quote(str(state_dir))} {binary}"
        "; echo molt exited $?; sleep 600"
    )
    # no molt.toml: web and api, each launching its g1 on first use, from the estate
    screen = terminal.shows("estate · 2 fleets", timeout=30)
    wait_for(lambda: terminal.screen().count("g1 v1 100%") == 2, timeout=90, every=0.2)
    screen = terminal.screen()
    assert all(any(n in line and "2/2" in line for line in screen.splitlines()) for n in FLEETS)
    terminal.press("Enter")
    terminal.shows("LIVE", "weight 100%", "2/2 healthy")
    terminal.press("Escape")
    terminal.shows("estate · 2 fleets")
    terminal.press("q")
    terminal.shows("Molt closed; both fleets keep running.")
