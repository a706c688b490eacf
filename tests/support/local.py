"""The local backend's real parts for tests: a fresh state dir, a real agent, real
instance processes — stopped at the end, by pid, only what this test started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from backends.config.fleet_config import FleetConfig
from backends.config.health_settings import HealthSettings
from backends.local.demo import demo_artifact
from backends.local.processes import free_port
from backends.local.settings import LocalSettings
from tests.support.waiting import wait_for as wait_for  # where local tests find it

REPO = Path(__file__).resolve().parents[2]


def short_state_dir() -> Path:
    """Unix socket paths must stay short: pytest's tmp_path can be too long."""
    return Path(tempfile.mkdtemp(prefix="molt-"))


def local_fleet(
    name: str = "web",
    *,
    count: int = 2,
    drain_timeout: float = 5.0,
    interval: float = 0.2,
    listen: str | None = None,
    start_period: float = 10.0,
    start: str = "{python} app.py --port {port}",
    artifact: Path | None = None,
) -> FleetConfig:
    """A fleet of the packaged demo app with fast health checks."""
    settings = LocalSettings(
        artifact=artifact or demo_artifact(),
        start=start,
        listen=listen or f"127.0.0.1:{free_port()}",
        count=count,
        drain_timeout=drain_timeout,
        health=HealthSettings(interval=interval, timeout=1.0, start_period=start_period),
    )
    return FleetConfig(name=name, backend="local", settings=settings, source="test")


def agent_pids(state_dir: Path) -> tuple[int | None, list[int]]:
    """(agent pid, instance pids) as the agent's store remembers them."""
    import sqlite3

    db = state_dir / "state.db"
    pids: list[int] = []
    if db.exists():
        with contextlib.closing(sqlite3.connect(db)) as conn:
            pids = [row[0] for row in conn.execute("SELECT pid FROM instances")]
    agent = None
    sock_owner = state_dir / "agent.lock"
    if sock_owner.exists():
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    cmd = (proc / "cmdline").read_bytes().split(b"\0")
                    if any(b"backends.local.agent" in part for part in cmd) and (
                        str(state_dir).encode() in cmd
                    ):
                        agent = int(proc.name)
    return agent, pids


def stop_everything(state_dir: Path) -> None:
    """Stop the agent and instances of this state dir: politely, then by pid."""
    subprocess.run(
        [sys.executable, "-m", "tui.cli.main", "agent", "stop", "--yes"],
        env={**os.environ, "MOLT_STATE_DIR": str(state_dir)},
        capture_output=True,
        timeout=60,
        cwd=REPO,
    )
    agent, pids = agent_pids(state_dir)
    for pid in [p for p in [agent, *pids] if p]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def state_dir_env() -> Iterator[Path]:
    path = short_state_dir()
    try:
        yield path
    finally:
        stop_everything(path)
        subprocess.run(["chmod", "-R", "u+w", str(path)], check=False)
        subprocess.run(["rm", "-rf", str(path)], check=False)


def molt(
    state_dir: Path,
    *args: str,
    config: Path | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``molt`` binary."""
    argv = [str(Path(sys.executable).with_name("molt"))]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.run(
        [*argv, *args],
        env={**os.environ, "MOLT_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or state_dir,
    )


def molt_process(state_dir: Path, *args: str, config: Path | None = None) -> subprocess.Popen[str]:
    """The real ``molt`` binary, running in the background (to be killed mid-way)."""
    argv = [str(Path(sys.executable).with_name("molt"))]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.Popen(
        [*argv, *args],
        env={**os.environ, "MOLT_STATE_DIR": str(state_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=state_dir,
    )


def printed_while(
    process: subprocess.Popen[str], poke: Callable[[], object], wanted: str, timeout: float = 20.0
) -> str:
    """All a follower (``molt logs -f``) printed, once it printed ``wanted``: ``poke()``
    (say, a request that fails) over and over until then; the follower is stopped."""
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()

    def shown() -> bool:
        poke()
        return any(wanted in line for line in lines)

    try:
        wait_for(shown, timeout, 0.05, what=f"the follower to print {wanted!r}")
    finally:
        process.terminate()
        process.wait(10)
        reader.join(10)
    return "".join(lines)


def request(url: str) -> None:
    """GET ``url``, whatever it answers."""
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=2).read()


def kill_when(process: subprocess.Popen[str], reached, what: str, timeout: float = 60.0) -> None:
    """SIGKILL ``process`` the moment ``reached()`` holds — it must still be running."""
    deadline = time.monotonic() + timeout
    while not reached():
        assert process.poll() is None, f"molt ended before {what}: {process.communicate()}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.01)
    assert process.poll() is None, f"molt ended before it could be killed at {what}"
    process.kill()
    process.communicate(timeout=10)


def molt_json(state_dir: Path, *args: str, config: Path | None = None) -> dict:
    done = molt(state_dir, *args, "--json", config=config)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
