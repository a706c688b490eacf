"""A long journal costs a look nothing more (local backend, the real agent and binary).

With tens of thousands of journal records, `molt status` used to read and fold every
one of them (50k: 1.2 s and 168 MB), and the TUI and a rollout did so at every look.
Now the agent keeps where each fleet stands, and a look reads only what was written
since the last: counted here in journal writes handed over, and in the memory of the
real `molt status` — never in seconds, which a busy machine blurs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from backends.core.journal import Journal, JournalRecord
from backends.core.journal_view import RECENT
from backends.engine.session import FleetSession
from backends.local.driver import LocalBackend
from tests.support.journal_fill import prefill
from tests.support.local import local_fleet, molt, state_dir_env, wait_for

pytestmark = pytest.mark.slow
LONG = 10_000  # records (20k writes): the old status took ~+40 MB for them


class Counting(Journal):
    """The fleet's journal, counting every write it hands over."""

    def __init__(self, inner: Journal) -> None:
        self.inner, self.handed = inner, 0

    async def write(self, record: JournalRecord) -> None:
        await self.inner.write(record)

    async def lines(self, fleet: str) -> list[str]:
        lines = await self.inner.lines(fleet)
        self.handed += len(lines)
        return lines

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        lines, cursor = await self.inner.after(fleet, cursor)
        self.handed += len(lines)
        return lines, cursor

    async def summary(self, fleet: str) -> tuple[list[str], str]:
        lines, cursor = await self.inner.summary(fleet)
        self.handed += len(lines)
        return lines, cursor


async def test_each_look_reads_only_what_was_written_since_the_last(state_dir):
    prefill(state_dir, "web", LONG)
    session = FleetSession.around(LocalBackend(local_fleet("web", count=1), state_dir))
    counting = session.journal_view.journal = Counting(session.backend.journal)
    try:
        await session.attention()
        assert counting.handed <= 2 * RECENT  # where the fleet stands, not 40k writes
        first = counting.handed
        for _ in range(3):
            await session.attention()
        assert counting.handed == first  # nothing new: nothing read
        await session.ops.record("verify", {"generation": "g1", "drift": []})
        await session.attention()
        assert counting.handed == first + 2  # the action's two writes, no more
        await session.standing()  # a rollout's tick reads the same way
        assert counting.handed == first + 2
    finally:
        await session.close()


def status_peak_mb(state_dir: Path, config: Path) -> float:
    """Peak RSS of one real ``molt status web --json``, measured by a child of its own."""
    probe = (
        "import resource, subprocess, sys; "
        "done = subprocess.run(sys.argv[1:], capture_output=True); "
        "assert done.returncode == 0, done.stderr; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    molt = str(Path(sys.executable).with_name("molt"))
    argv = [molt, "--config", str(config), "status", "web", "--json"]
    env = {**os.environ, "MOLT_STATE_DIR": str(state_dir)}
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout) / 1024


def fleet_with_journal(state_dir: Path, records: int) -> Path:
    config = state_dir / "molt.toml"
    settings = local_fleet("web", count=1).settings
    config.write_text(
        '[fleets.web]\nbackend = "local"\n'
        f'artifact = "{settings.artifact}"\nstart = "{{python}} app.py --port {{port}}"\n'
        f'listen = "{settings.listen}"\ncount = 1\n'
    )
    prefill(state_dir, "web", records)
    return config


def test_status_memory_does_not_grow_with_the_journal():
    peaks = []
    for records in (100, LONG):
        with state_dir_env() as state_dir:
            config = fleet_with_journal(state_dir, records)
            status_peak_mb(state_dir, config)  # starts the agent, which reads it once
            peaks.append(status_peak_mb(state_dir, config))
    short, long = peaks
    assert long < short + 10, f"status: {short:.0f} MB with 100 records, {long:.0f} MB with {LONG}"


def test_a_verify_with_a_long_journal_never_stalls_the_proxy():
    """The agent used to read and hash the whole journal on its event loop at every
    verify (the drift watch's too): 50k records stopped the proxy for seconds. Now it
    reads it once, off the loop, and keeps each launch's digest as writes are stored."""
    with state_dir_env() as state_dir:
        config = fleet_with_journal(state_dir, 2 * LONG)
        launched = molt(state_dir, "launch", "web", "--version", "v1", "--wait", config=config)
        assert launched.returncode == 0, launched.stderr
        assert molt(state_dir, "promote", "web", "g1", config=config).returncode == 0
        match = re.search(r'listen = "([^"]+)"', config.read_text())
        assert match is not None
        entry = match[1]

        def get() -> float:
            began = time.monotonic()
            with urllib.request.urlopen(f"http://{entry}/", timeout=30) as answer:
                answer.read()
            return time.monotonic() - began

        wait_for(lambda: _answers(get))
        assert molt(state_dir, "verify", "web", config=config).returncode == 0  # warmed up
        waits: list[float] = []
        done = threading.Event()

        def ask() -> None:
            while not done.is_set():
                waits.append(get())

        asking = threading.Thread(target=ask)
        asking.start()
        try:
            for _ in range(3):
                assert molt(state_dir, "verify", "web", config=config).returncode == 0
        finally:
            done.set()
            asking.join()
        assert len(waits) > 10 and max(waits) < 1.0, f"{len(waits)} requests, max {max(waits)}"


def _answers(get) -> bool:
    try:
        get()
    except OSError:
        return False
    return True
