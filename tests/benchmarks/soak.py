"""Soak: shift cycles under keep-alive load on the local backend, for a chosen time.

Run: .venv/bin/python tests/benchmarks/soak.py [--minutes 10] [--clients 8]

Two generations of the demo app behind the agent's proxy; every few seconds the
traffic moves g1 100% → 50/50 → g2 100% → 50/50 → back, through the guarded door
(Operations: lock, journal, guards), while keep-alive clients request without pause.
Reports the requests that failed and the agent's memory (RSS) and open file
descriptors after a warm-up under load and at the end: both should stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.local.client import LocalBackend  # noqa: E402
from backends.model import GenerationSpec  # noqa: E402
from backends.session import FleetSession  # noqa: E402
from tests.support.load import keep_alive_load  # noqa: E402
from tests.support.local import agent_pids, local_fleet, state_dir_env  # noqa: E402

WARM_UP = 15.0  # seconds of load before the first reading
CYCLE = ({"g1": 100, "g2": 0}, {"g1": 50, "g2": 50}, {"g1": 0, "g2": 100}, {"g1": 50, "g2": 50})


def agent_usage(state_dir: Path) -> tuple[float, int]:
    """(RSS in MB, open file descriptors) of the agent."""
    agent, _ = agent_pids(state_dir)
    assert agent is not None, "no agent"
    status = Path(f"/proc/{agent}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kb / 1024, len(list(Path(f"/proc/{agent}/fd").iterdir()))


async def soak(minutes: float, clients: int, every: float) -> list[tuple[str, str, str]]:
    with state_dir_env() as state_dir:
        fleet = local_fleet("soak", count=2, drain_timeout=5.0, start_period=10.0)
        session = FleetSession.around(LocalBackend(fleet, state_dir))
        for version in ("v1", "v2"):
            generation = await session.ops.launch(GenerationSpec(version=version))
            await session.wait_settled(generation.id, timeout=60)
        await session.ops.promote("g1")
        entry = (await session.read()).entry
        stop = asyncio.Event()
        load = asyncio.create_task(keep_alive_load(f"http://{entry}/", clients, stop, 0))
        await asyncio.sleep(WARM_UP)  # the proxy's pools fill up: then measure
        start = agent_usage(state_dir)
        began, shifts = time.monotonic(), 0
        while time.monotonic() - began < minutes * 60:
            await asyncio.sleep(every)
            await session.ops.shift(CYCLE[(shifts + 1) % len(CYCLE)])
            shifts += 1
        stop.set()
        tally = await load
        end = agent_usage(state_dir)
        check = await session.backend.journal.check("soak")
        await session.close()
    elapsed = time.monotonic() - began
    return [
        ("duration", f"{elapsed / 60:.1f} min", ""),
        ("shifts", f"{shifts}", f"one every {every:g} s, journaled, chain intact: {check.intact}"),
        ("requests", f"{tally.total:,}", f"{tally.total / elapsed:,.0f}/s from {clients} clients"),
        ("failed requests", f"{tally.failed}", "; ".join(tally.failures[:3])),
        ("client connections", f"{tally.connections}", "kept alive throughout"),
        ("agent RSS", f"{start[0]:.1f} MB → {end[0]:.1f} MB", ""),
        ("agent open fds", f"{start[1]} → {end[1]}", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between shifts")
    args = parser.parse_args()
    rows = asyncio.run(soak(args.minutes, args.clients, args.every))
    print("| measure | result | |\n|---|---|---|")
    for measure, result, note in rows:
        print(f"| {measure} | {result} | {note} |")


if __name__ == "__main__":
    main()
