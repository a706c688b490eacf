"""Molt as a package, away from its source tree: the wheel built from this checkout,
installed in a fresh venv, run from another directory — the demo app travels with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.local import wait_for

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv[0]} {argv[1:3]}: {done.stderr[-2000:]}"
    return done


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_wheel_in_a_fresh_venv_runs_the_demo_from_anywhere(state_dir: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)], tmp_path, env)
    (wheel,) = dist.glob("molt-*.whl")
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    installer = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*installer, "install", "--quiet", str(wheel)], tmp_path, env, timeout=600)

    molt = str(venv / "bin" / "molt")
    home = {**env, "MOLT_STATE_DIR": str(state_dir), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert run([molt, "--version"], elsewhere, home).stdout == f"molt {version}\n"

    status = json.loads(run([molt, "status", "web", "--json"], elsewhere, home).stdout)
    assert status["fleet"] == "web"
    assert [(g["id"], g["weight"]) for g in status["generations"]] == [("g1", 100)]
    agent = json.loads(run([molt, "agent", "status", "--json"], elsewhere, home).stdout)
    assert agent["state_dir"] == str(state_dir)
    # the agent runs the installed code, not this checkout's
    cmdline = Path(f"/proc/{agent['pid']}/cmdline").read_text()
    assert str(venv) in cmdline and str(REPO) not in cmdline, cmdline

    stopped = run([molt, "agent", "stop", "--yes"], elsewhere, home).stdout
    assert stopped.startswith(f"agent {agent['pid']} stopped")
    wait_for(lambda: not alive(agent["pid"]), timeout=10, every=0.1)
