"""Instance logs on the local backend stay bounded while an app floods them: every file
under the cap at every moment, at most two files, every line timestamped, no line lost
at a rotation, and the agent never reads a whole log."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from pathlib import Path

import pytest

from backends.local import logs
from backends.local.logwriter import Writer
from tests.support.local import agent_pids, molt, state_dir_env, wait_for

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"
STAMPED = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (.*)")
LINES = 200_000  # about 25 MiB with their timestamps: a dozen rotations


def watch_sizes(paths: list[Path], stop: threading.Event) -> list[int]:
    """The largest size each of ``paths`` had while watched (every millisecond)."""
    largest = [0] * len(paths)

    def look() -> None:
        while not stop.is_set():
            for index, path in enumerate(paths):
                with contextlib.suppress(FileNotFoundError):
                    largest[index] = max(largest[index], path.stat().st_size)
            time.sleep(0.001)

    threading.Thread(target=look, daemon=True).start()
    return largest


def test_a_flooding_app_keeps_two_capped_files_of_timestamped_lines_none_lost():
    with state_dir_env() as state_dir:
        toml = state_dir / "molt.toml"
        toml.write_text(
            f'[fleets.web]\nartifact = "{APPS}"\n'
            f'start = "{{python}} flood.py --port {{port}} --lines {LINES}"\ncount = 1\n'
        )
        log = state_dir / "fleets" / "web" / "logs" / "g1-1.log"
        stop = threading.Event()
        largest = watch_sizes([log, logs.older(log)], stop)
        done = molt(state_dir, "launch", "web", "--version", "v1", "--wait", config=toml)
        assert done.returncode == 0, done.stderr
        wait_for(lambda: log.exists() and log.read_bytes().endswith(b"flood done\n"), 60)
        stop.set()
        assert max(largest) <= logs.CAP, largest
        assert sorted(p.name for p in log.parent.iterdir()) == ["g1-1.log", "g1-1.log.1"]
        lines = (logs.older(log).read_bytes() + log.read_bytes()).splitlines()
        texts = [STAMPED.fullmatch(line) for line in lines]
        assert all(texts), [line for line, text in zip(lines, texts, strict=True) if not text][:3]
        numbers = [int(m.group(1).split()[1]) for m in texts[:-1] if m is not None]
        assert numbers == list(range(numbers[0], LINES))  # a run without a gap, to the end
        assert len(numbers) > logs.CAP // 128  # more than one file's worth
        shown = molt(state_dir, "logs", "web", "g1-1", "--lines", "3", config=toml)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.splitlines()[-1].endswith("Z flood done")
        agent, _ = agent_pids(state_dir)
        status = Path(f"/proc/{agent}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
        assert peak < 100 * 1000 * 1000


async def test_following_a_log_loses_no_line_across_rotations(tmp_path):
    path = tmp_path / "app.log"
    writer = Writer(str(path), cap=4096)
    seen: list[str] = []

    async def read() -> None:
        async for line in logs.follow(path):
            seen.append(logs.unstamped(line))

    follower = asyncio.create_task(read())
    await asyncio.sleep(0)  # the follower opens the log (at its end) and waits
    for batch in range(10):  # each batch fills most of a file: a rotation between looks
        numbers = range(batch * 30, (batch + 1) * 30)
        writer.take(b"".join(b"line %d %s\n" % (n, b"y" * 80) for n in numbers), time.time())
        deadline = time.monotonic() + 10
        while len(seen) < (batch + 1) * 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    follower.cancel()
    assert [int(line.split()[1]) for line in seen] == list(range(300))
    assert path.stat().st_size <= 4096 and logs.older(path).stat().st_size <= 4096
