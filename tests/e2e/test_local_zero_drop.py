"""Zero drop: keep-alive clients through launch, 0→10→50→100 and retire."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support.load import Tally, keep_alive_load
from tests.support.local import molt_json
from tests.support.waiting import until

pytestmark = pytest.mark.slow
MOLT = str(Path(sys.executable).with_name("molt"))


async def run_molt(state_dir: Path, *args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        MOLT,
        *args,
        env={**os.environ, "MOLT_STATE_DIR": str(state_dir)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=state_dir,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (args, err.decode())


async def test_no_request_fails_through_a_whole_release(state_dir):
    entry = molt_json(state_dir, "status", "web")["entry"]
    stop, tally = asyncio.Event(), Tally()
    load = asyncio.create_task(keep_alive_load(f"http://{entry}/", 8, stop, 10_000, tally))
    await until(tally.every_client_answered, what="the load to be up")
    await run_molt(state_dir, "launch", "web", "--version", "v2", "--count", "2", "--wait")
    for weights in (("g1=90", "g2=10"), ("g1=50", "g2=50"), ("g1=0", "g2=100")):
        await run_molt(state_dir, "shift", "web", *weights)
        await asyncio.sleep(1.0)  # a second of traffic at these weights
    await run_molt(state_dir, "retire", "web", "g1")
    await asyncio.sleep(0.5)  # and some after the retire
    stop.set()
    tally = await load

    assert tally.failed == 0, tally.failures[:5]
    assert tally.ok >= 10_000
    assert tally.connections == 8  # every client kept its one connection throughout
    assert tally.bodies["v1"] > 0 and tally.bodies["v2"] > 0
    assert all(set(recent) == {"v2"} for recent in tally.last.values())  # followed the shift
