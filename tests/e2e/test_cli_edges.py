"""The CLI at its edges, run as the real binary: a reader that goes away ends it quietly,
``--json`` is honoured by every verb (or refused as a usage error, never ignored), and a
number that makes no sense is a usage error (exit 2) in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends.local.demo import demo_artifact
from tests.support.local import molt

pytestmark = pytest.mark.slow

FLEET = f"""
[fleets.web]
artifact = "{demo_artifact()}"
start = "{{python}} app.py --port {{port}}"
listen = "127.0.0.1:0"
count = 1
"""


@pytest.fixture
def toml(state_dir: Path) -> Path:
    path = state_dir / "molt.toml"
    path.write_text(FLEET)
    return path


def one_line(done: subprocess.CompletedProcess[str], code: int, phrase: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and phrase in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize(
    "args", [("history", "web", "--json"), ("status", "web", "--json"), ("history", "web")]
)
def test_a_closed_pipe_ends_quietly(state_dir, toml, args):
    """``molt history --json | head -c 10``: the reader is gone before Molt writes."""
    argv = [str(Path(sys.executable).with_name("molt")), "--config", str(toml), *args]
    env = {**os.environ, "MOLT_STATE_DIR": str(state_dir)}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=state_dir
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as head does once it has its 10 bytes
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, 141)
    assert stderr == "", stderr


def test_a_shell_pipeline_into_head_ends_quietly(state_dir, toml):
    line = f"'{Path(sys.executable).with_name('molt')}' --config '{toml}' history web --json"
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {line} | head -c 10"],
        capture_output=True,
        text=True,
        env={**os.environ, "MOLT_STATE_DIR": str(state_dir)},
        timeout=60,
    )
    assert done.returncode in (0, 141) and done.stderr == "", done.stderr
    assert len(done.stdout) == 10


def test_history_check_honours_json(state_dir, toml):
    done = molt(state_dir, "history", "web", "--check", "--json", config=toml)
    assert done.returncode == 0, done.stderr
    checked = json.loads(done.stdout)
    assert checked["fleet"] == "web" and checked["intact"] is True


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("report", "web", "--json"), "report cannot print JSON"),
        (("rollout", "web", "--json"), "rollout cannot print JSON"),
    ],
)
def test_a_verb_without_json_refuses_it_as_a_usage_error(state_dir, toml, args, phrase):
    one_line(molt(state_dir, *args, config=toml), 2, phrase)


LINES = "argument --lines: must be a whole number"
COUNT = "argument --count: must be a whole number"


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("logs", "web", "g1", "--lines", "-5"), f"{LINES} 0–100000, not -5"),
        (("logs", "web", "g1", "--lines", "1" + "0" * 30), f"{LINES} 0–100000"),
        (("shift", "web", "g7=-10", "g1=110"), "a weight is a percentage 0–100, not g7=-10"),
        (("shift", "web", "g1=110"), "a weight is a percentage 0–100, not g1=110"),
        (("launch", "web", "--version", "v2", "--count", "0"), f"{COUNT} 1–1000, not 0"),
        (("launch", "web", "--version", "v2", "--count", "-3"), f"{COUNT} 1–1000, not -3"),
    ],
)
def test_nonsensical_numbers_are_usage_errors(state_dir, toml, args, phrase):
    one_line(molt(state_dir, *args, config=toml), 2, phrase)
    assert not (state_dir / "agent.sock").exists()  # refused before anything started


def test_logs_retire_and_agent_stop_honour_json(state_dir, toml):
    for version in ("v1", "v2"):
        launched = molt(state_dir, "launch", "web", "--version", version, "--wait", config=toml)
        assert launched.returncode == 0, launched.stderr
    logs = json.loads(molt(state_dir, "logs", "web", "g2", "--json", config=toml).stdout)
    assert logs["instance"].startswith("g2") and isinstance(logs["lines"], list)
    retired = molt(state_dir, "retire", "web", "g2", "--json", config=toml)
    assert json.loads(retired.stdout) == {"generation": "g2", "retired": True}
    stopped = molt(state_dir, "agent", "stop", "--yes", "--json")
    assert len(json.loads(stopped.stdout)["instances"]) == 1  # g1's one instance
