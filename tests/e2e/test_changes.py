"""``molt changes`` end to end: three local fleets in one molt.toml, actions on each in
a known order, and the real binary merging their journals by time."""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from backends.local.demo import demo_artifact
from tests.support.local import molt, molt_json

pytestmark = pytest.mark.slow
KEYS = {"at", "fleet", "who", "what", "why", "generation", "record", "outcome", "action"}
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  (\w+)  \S+  (.+)$")


def estate(state_dir: Path, *names: str, unreachable: str = "") -> Path:
    """A molt.toml of local fleets ``names`` (and an SSH fleet nobody answers for)."""
    config = state_dir / "molt.toml"
    text = "".join(
        f'[fleets.{name}]\nartifact = "{demo_artifact()}"\n'
        'start = "{python} app.py --port {port}"\ncount = 1\nlisten = "127.0.0.1:0"\n'
        for name in names
    )
    if unreachable:
        (state_dir / "known_hosts").write_text("")
        text += (
            f'[fleets.{unreachable}]\nbackend = "ssh"\nhosts = ["deploy@127.0.0.1:1"]\n'
            f'known_hosts = "{state_dir / "known_hosts"}"\nconnect_timeout = 2.0\n'
            f'artifact = "{demo_artifact()}"\nstart = "python3 app.py --port {{port}}"\n'
            f'[fleets.{unreachable}.lb]\nhost = "deploy@127.0.0.1:1"\n'
            'socket = "/run/haproxy/admin.sock"\nbackend = "web"\n'
        )
    config.write_text(text)
    return config


def act(state_dir: Path, config: Path, *args: str) -> None:
    done = molt(state_dir, *args, config=config)
    assert done.returncode == 0, done.stderr


def changes(state_dir: Path, config: Path, *args: str) -> dict:
    return molt_json(state_dir, "changes", *args, config=config)


def test_three_fleets_merge_by_time_and_fleet_picks_some(state_dir):
    config = estate(state_dir, "alpha", "beta", "gamma")
    act(state_dir, config, "launch", "alpha", "--version", "v1", "--wait")
    act(state_dir, config, "launch", "beta", "--version", "v1", "--wait")
    act(state_dir, config, "promote", "alpha", "g1")
    act(state_dir, config, "launch", "gamma", "--version", "v7", "--wait", "--note", "first")
    act(state_dir, config, "promote", "beta", "g1")

    found = changes(state_dir, config)
    assert set(found) >= {"since", "changes"} and all(set(c) == KEYS for c in found["changes"])
    assert [(c["fleet"], c["what"]) for c in found["changes"]] == [
        ("alpha", "launch v1 → g1"),
        ("beta", "launch v1 → g1"),
        ("alpha", "promote g1"),
        ("gamma", "launch v7 → g1"),
        ("beta", "promote g1"),
    ]
    assert [c["at"] for c in found["changes"]] == sorted(c["at"] for c in found["changes"])
    assert found["changes"][3]["why"] == "first"
    history = molt_json(state_dir, "history", "gamma", config=config)["records"]
    assert found["changes"][3]["record"] == history[0]["id"]

    text = molt(state_dir, "changes", config=config)
    assert text.returncode == 0, text.stderr
    lines = [LINE.match(line) for line in text.stdout.splitlines()]
    assert all(lines), text.stdout
    assert [m.group(1) for m in lines if m] == ["alpha", "beta", "alpha", "gamma", "beta"]

    some = changes(state_dir, config, "--fleet", "gamma,beta")
    assert [c["fleet"] for c in some["changes"]] == ["beta", "gamma", "beta"]
    unknown = molt(state_dir, "changes", "--fleet", "beta,nope", config=config)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip() == "molt: unknown fleet 'nope'; known fleets: alpha, beta, gamma"


def test_since_leaves_older_changes_out_and_an_unreadable_fleet_is_named(state_dir):
    config = estate(state_dir, "alpha", "beta", unreachable="far")
    act(state_dir, config, "launch", "alpha", "--version", "v1", "--wait")
    first = molt_json(state_dir, "history", "alpha", config=config)["records"][0]
    while time.time() < _epoch(first["at"]) + 15:  # the window below starts ≥ 9 s after
        time.sleep(0.5)
    act(state_dir, config, "launch", "beta", "--version", "v2", "--wait")
    second = molt_json(state_dir, "history", "beta", config=config)["records"][0]
    # a window reaching at most 9 s (and, however slow molt starts, not 0 s) before beta's
    window = math.ceil(time.time() - _epoch(second["at"])) + 8

    done = molt(state_dir, "changes", "--since", f"{window}s", "--json", config=config)
    assert done.returncode == 1
    found = json.loads(done.stdout)
    assert [(c["fleet"], c["record"]) for c in found["changes"]] == [("beta", second["id"])]
    assert _epoch(found["since"]) > _epoch(first["at"])
    (said,) = done.stderr.splitlines()
    assert said.startswith("molt: far could not be read: ")

    everything = molt(state_dir, "changes", "--since", "1d", "--fleet", "alpha,beta", config=config)
    assert everything.returncode == 0, everything.stderr
    assert [line.split()[1] for line in everything.stdout.splitlines()] == ["alpha", "beta"]


def _epoch(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
