"""Molt killed (SIGKILL) in the middle of a launch or a retire on the local backend —
the ``molt`` command, or the agent itself: the fleet ends whole, as the action meant,
and nothing keeps running that ``status`` cannot see."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from backends.local.processes import marks
from tests.support.local import agent_pids, kill_when, molt, molt_json, molt_process, wait_for

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"


def config(state_dir: Path, start: str, artifact: Path = APPS) -> Path:
    path = state_dir / "molt.toml"
    path.write_text(
        f'[fleets.web]\nartifact = "{artifact}"\nstart = "{start}"\ncount = 2\ndrain_timeout = 0\n'
    )
    return path


def heavy_artifact(state_dir: Path) -> Path:
    """The test apps plus 256 MiB of ballast: freezing it keeps the generation
    ``launching`` for a good part of a second, long enough to be killed in."""
    artifact = state_dir / "artifact"
    shutil.copytree(APPS, artifact)
    with (artifact / "ballast.bin").open("wb") as ballast:
        ballast.truncate(256 * 1024 * 1024)
    return artifact


def slow_to_launch(state_dir: Path) -> Path:
    return config(
        state_dir, "{python} slow_start.py --port {port} --after 1", heavy_artifact(state_dir)
    )


def lifecycle(state_dir: Path, generation: str) -> str | None:
    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(state_dir / "state.db", timeout=1)) as db,
    ):
        row = db.execute("SELECT lifecycle FROM generations WHERE id = ?", (generation,)).fetchone()
        return row[0] if row else None
    return None


def processes_of(state_dir: Path, instance: str) -> list[int]:
    wanted = [m.encode() for m in marks(state_dir / "fleets" / "web", "web", instance)]
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and all(
                m in (entry / "environ").read_bytes().split(b"\0") for m in wanted
            ):
                found.append(int(entry.name))
    return found


def kill_agent_when(state_dir: Path, reached) -> None:
    wait_for(reached, timeout=30, every=0.01)
    agent, _ = agent_pids(state_dir)
    assert agent is not None
    os.kill(agent, signal.SIGKILL)


def test_the_agent_killed_mid_launch_finishes_it_when_it_starts_again(state_dir):
    toml = slow_to_launch(state_dir)
    assert molt(state_dir, "status", "web", config=toml).returncode == 0  # the agent runs
    launching = molt_process(state_dir, "launch", "web", "--version", "v1", config=toml)
    kill_agent_when(state_dir, lambda: lifecycle(state_dir, "g1") == "launching")
    assert lifecycle(state_dir, "g1") == "launching"  # killed mid-way, not after
    launching.communicate(timeout=60)  # it loses the agent: one line, exit 1
    assert launching.returncode == 1
    status = molt_json(state_dir, "status", "web", config=toml)  # a new agent
    assert [g["id"] for g in status["generations"]] == ["g1"]
    wait_for(lambda: lifecycle(state_dir, "g1") == "active", timeout=30)
    wait_for(
        lambda: (
            {
                i["health"]
                for i in molt_json(state_dir, "status", "web", config=toml)["generations"][0][
                    "instances"
                ]
            }
            == {"healthy"}
        ),
        timeout=60,
    )
    assert all(len(processes_of(state_dir, i)) == 1 for i in ("g1-1", "g1-2"))  # no duplicates


def test_molt_killed_mid_launch_leaves_the_agent_to_finish_it(state_dir):
    toml = slow_to_launch(state_dir)
    launching = molt_process(state_dir, "launch", "web", "--version", "v1", "--wait", config=toml)
    kill_when(launching, lambda: lifecycle(state_dir, "g1") == "launching", "g1 launching")
    wait_for(lambda: lifecycle(state_dir, "g1") == "active", timeout=30)
    status = wait_for(
        lambda: (
            (s := molt_json(state_dir, "status", "web", config=toml))["generations"][0]["state"]
            == "healthy"
            and s
        ),
        timeout=60,
    )
    assert [g["id"] for g in status["generations"]] == ["g1"]
    assert status["interrupted"] == [] and status["lock"] is None
    assert all(len(processes_of(state_dir, i)) == 1 for i in ("g1-1", "g1-2"))  # no duplicates


def test_molt_killed_mid_retire_leaves_the_agent_to_finish_it(state_dir):
    toml = config(state_dir, "{python} stubborn.py --port {port}")
    for version in ("v1", "v2"):
        done = molt(state_dir, "launch", "web", "--version", version, "--wait", config=toml)
        assert done.returncode == 0, done.stderr
    assert molt(state_dir, "promote", "web", "g2", config=toml).returncode == 0
    retiring = molt_process(state_dir, "retire", "web", "g1", config=toml)
    kill_when(retiring, lambda: lifecycle(state_dir, "g1") == "draining", "g1 draining")
    wait_for(lambda: lifecycle(state_dir, "g1") == "retired", timeout=30)
    status = molt_json(state_dir, "status", "web", config=toml)
    assert [g["id"] for g in status["generations"]] == ["g2"]
    assert status["interrupted"] == [] and status["lock"] is None
    assert not processes_of(state_dir, "g1-1") and not processes_of(state_dir, "g1-2")


def test_the_agent_killed_mid_retire_finishes_it_when_it_starts_again(state_dir):
    toml = config(state_dir, "sh -c '{python} stubborn.py --port {port} | cat'")
    for version in ("v1", "v2"):
        done = molt(state_dir, "launch", "web", "--version", version, "--wait", config=toml)
        assert done.returncode == 0, done.stderr
    assert molt(state_dir, "promote", "web", "g2", config=toml).returncode == 0
    retiring = molt_process(state_dir, "retire", "web", "g1", config=toml)
    kill_agent_when(state_dir, lambda: lifecycle(state_dir, "g1") == "draining")
    retiring.communicate(timeout=60)
    again = molt(state_dir, "retire", "web", "g1", config=toml)  # a new agent resumes it
    assert again.returncode == 0 or "no generation g1" in again.stderr, again.stderr
    gone = ("g1-1", "g1-2")
    wait_for(lambda: not any(processes_of(state_dir, i) for i in gone), timeout=30)
    status = molt_json(state_dir, "status", "web", config=toml)
    assert [g["id"] for g in status["generations"]] == ["g2"]
    assert all(processes_of(state_dir, i) for i in ("g2-1", "g2-2"))
