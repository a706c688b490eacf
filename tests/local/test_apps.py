"""Apps that are not ours, on the local backend: one that takes seconds before it
listens, one that dies at once, one behind ``sh -c '… | cat'``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from backends.core.errors import OperationFailed
from backends.core.model import GenerationSpec, Health
from backends.engine.session import FleetSession
from backends.local.driver import LocalBackend
from backends.local.processes import group_members, marks
from tests.support.local import local_fleet, molt, state_dir_env, wait_for

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"


def session_for(state_dir: Path, **settings) -> FleetSession:
    return FleetSession.around(
        LocalBackend(local_fleet("web", artifact=APPS, **settings), state_dir)
    )


async def test_an_app_that_takes_six_seconds_to_listen_launches():
    with state_dir_env() as state_dir:
        session = session_for(
            state_dir,
            count=1,
            start="{python} slow_start.py --port {port} --after 6",
            start_period=30.0,
        )
        generation = await session.ops.launch(GenerationSpec(version="v1"))
        started = time.monotonic()
        settled = await session.wait_settled(generation.id, timeout=60)
        assert time.monotonic() - started >= 4  # it really was slow
        assert [i.health for i in settled.instances] == [Health.HEALTHY]
        await session.close()


async def test_an_app_that_exits_at_once_fails_fast_naming_its_exit_status():
    with state_dir_env() as state_dir:
        session = session_for(state_dir, count=2, start="{python} exits.py --port {port}")
        generation = await session.ops.launch(GenerationSpec(version="v1"))
        started = time.monotonic()
        with pytest.raises(OperationFailed) as failure:
            await session.wait_settled(generation.id, timeout=60)
        assert time.monotonic() - started < 8  # not after the start period (10 s)
        message = failure.value.message
        assert "exited with code 3" in message
        assert "cannot read /etc/molt-test/app.conf" in message
        await session.close()


def test_retire_and_agent_stop_leave_nothing_of_a_piped_start_command():
    with state_dir_env() as state_dir:
        toml = state_dir / "molt.toml"
        toml.write_text(
            "[fleets.web]\n"
            f'artifact = "{APPS}"\n'
            "start = \"sh -c '{python} stubborn.py --port {port} | cat'\"\n"
            "count = 2\n"
            "drain_timeout = 0\n"
        )
        for version in ("v1", "v2"):
            done = molt(state_dir, "launch", "web", "--version", version, "--wait", config=toml)
            assert done.returncode == 0, done.stderr
        g1 = [p for i in ("g1-1", "g1-2") for p in group_members_of(state_dir, "web", i)]
        assert len(g1) >= 6  # sh, the app and its child, cat — per instance
        assert molt(state_dir, "retire", "web", "g1", config=toml).returncode == 0
        assert all(not group_members_of(state_dir, "web", i) for i in ("g1-1", "g1-2"))
        assert group_members_of(state_dir, "web", "g2-1")
        stopped = molt(state_dir, "agent", "stop", "--yes", config=toml)
        assert stopped.returncode == 0, stopped.stderr
        wait_for(lambda: not any(group_members_of(state_dir, "web", i) for i in ("g2-1", "g2-2")))


def group_members_of(state_dir: Path, fleet: str, instance: str) -> list[int]:
    """Every process carrying the instance's marks, whatever group it is in."""
    its = marks(state_dir / "fleets" / fleet, fleet, instance)
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if all(m.encode() in environ for m in its):
                found.append(int(entry.name))
    return [p for p in found if group_members(_pgid(p), its)]


def _pgid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError):
        return -1
