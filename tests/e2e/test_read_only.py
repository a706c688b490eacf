"""``--read-only`` on the local backend writes nothing: molt.toml changed since the
fleet started is reported, not applied, and no agent is started to look."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from backends.local.demo import demo_artifact
from backends.local.processes import free_port
from tests.support.local import agent_pids, molt, molt_json

pytestmark = pytest.mark.slow


def config(path: Path, listen: str) -> Path:
    path.write_text(
        "[fleets.web]\n"
        f'listen = "{listen}"\n'
        f'artifact = "{demo_artifact()}"\n'
        'start = "{python} app.py --port {port}"\n'
        "count = 1\n"
    )
    return path


def answers(listen: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{listen}/", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_a_changed_listen_is_reported_and_nothing_moves(state_dir):
    first, second = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    toml = config(state_dir / "molt.toml", first)
    launched = molt(state_dir, "launch", "web", "--version", "v1", "--wait", config=toml)
    assert launched.returncode == 0
    assert molt(state_dir, "promote", "web", "g1", config=toml).returncode == 0
    config(toml, second)
    looked = molt(state_dir, "--read-only", "status", "web", config=toml)
    assert looked.returncode == 0, looked.stderr
    assert f"! molt.toml sets listen = '{second}', the fleet runs with '{first}'" in looked.stdout
    status = molt_json(state_dir, "--read-only", "status", "web", config=toml)
    assert status["entry"] == first and status["differences"]
    assert answers(first) and not answers(second)
    refused = molt(state_dir, "--read-only", "shift", "web", "g1=100", config=toml)
    assert refused.returncode == 1 and "read-only mode" in refused.stderr


def test_read_only_never_starts_the_agent(state_dir):
    looked = molt(state_dir, "--read-only", "status", "web")
    assert looked.returncode == 1
    assert looked.stderr.strip().startswith("molt: no local agent is running for")
    assert len(looked.stderr.strip().splitlines()) == 1
    assert agent_pids(state_dir) == (None, []) and not (state_dir / "state.db").exists()
