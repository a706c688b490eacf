"""Soak: shift cycles under keep-alive load on the local backend, for a chosen time.

Run: .venv/bin/python tests/benchmarks/soak.py [--minutes 10] [--clients 8]
     [--prefill 50000] [--grow 20] [--sample 30]

Two generations of the demo app behind the agent's proxy; every few seconds the
traffic moves g1 100% → 50/50 → g2 100% → 50/50 → back, through the guarded door
(Operations: lock, journal, guards), while keep-alive clients request without pause.
Reports the requests that failed and the agent's memory (RSS) and open file
descriptors after a warm-up under load and at the end: both should stay flat.

With journal growth: ``--prefill N`` stores N finished records in the fleet's journal
before the agent reads it, ``--grow R`` journals R more records a second through the
agent while the soak runs, and every ``--sample`` seconds the real ``molt status
soak --json`` is timed and its peak memory taken (with the agent's): status latency and
memory should stay flat however long the journal grows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.config.loading import load_config  # noqa: E402
from backends.core.journal import JournalRecord, Outcome  # noqa: E402
from backends.core.model import GenerationSpec  # noqa: E402
from backends.engine.session import FleetSession  # noqa: E402
from backends.local.demo import demo_artifact  # noqa: E402
from backends.local.driver import LocalBackend  # noqa: E402
from backends.local.processes import free_port  # noqa: E402
from tests.support.journal_fill import prefill  # noqa: E402
from tests.support.load import keep_alive_load  # noqa: E402
from tests.support.local import agent_pids, state_dir_env  # noqa: E402

WARM_UP = 15.0  # seconds of load before the first reading
CONFIG = """[fleets.soak]
backend = "local"
artifact = "{artifact}"
start = "{{python}} app.py --port {{port}}"
listen = "127.0.0.1:{port}"
count = 2
drain_timeout = 5

[fleets.soak.health]
interval = 0.2
start_period = 10
"""
PROBE = (
    "import resource, subprocess, sys, time; t = time.monotonic(); "
    "done = subprocess.run(sys.argv[1:], capture_output=True); "
    "assert done.returncode == 0, done.stderr; "
    "print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
CYCLE = ({"g1": 100, "g2": 0}, {"g1": 50, "g2": 50}, {"g1": 0, "g2": 100}, {"g1": 50, "g2": 50})


def agent_usage(state_dir: Path) -> tuple[float, int, float]:
    """(RSS in MB, open file descriptors, peak RSS so far in MB) of the agent."""
    agent, _ = agent_pids(state_dir)
    assert agent is not None, "no agent"
    status = Path(f"/proc/{agent}/status").read_text()

    def kb(field: str) -> int:
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field))

    fds = len(list(Path(f"/proc/{agent}/fd").iterdir()))
    return kb("VmRSS") / 1024, fds, kb("VmHWM") / 1024


async def status_sample(state_dir: Path, config: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one real ``molt status soak --json``."""
    molt = [sys.executable, "-m", "tui.cli.main", "--config", str(config)]
    molt += ["status", "soak", "--json"]
    env = {**os.environ, "MOLT_STATE_DIR": str(state_dir)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, *molt, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    seconds, rss_kb = out.decode().split()
    return float(seconds), int(rss_kb) / 1024


async def grow(session: FleetSession, per_second: float, grown: list[int]) -> None:
    """Journal ``per_second`` records a second (each its two writes) through the agent."""
    while True:
        await asyncio.sleep(1.0)
        for _ in range(int(per_second)):
            record = JournalRecord(
                fleet="soak", action="verify", operator="soak", args={"generation": "g1"}
            )
            await session.backend.journal.write(record)
            await session.backend.journal.write(record.finished(Outcome.OK))
            grown[0] += 1


async def soak(
    minutes: float, clients: int, every: float, prefilled: int, growth: float, sample: float
) -> tuple[list[tuple[str, str, str]], list[tuple[float, int, float, float, float]]]:
    with state_dir_env() as state_dir:
        config = state_dir / "molt.toml"
        config.write_text(CONFIG.format(artifact=demo_artifact(), port=free_port()))
        fleet = load_config(config).fleet("soak")
        if prefilled:
            prefill(state_dir, "soak", prefilled)
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
        grown = [0]
        grower = asyncio.create_task(grow(session, growth, grown)) if growth else None
        samples: list[tuple[float, int, float, float, float]] = []
        began, shifts, sampled = time.monotonic(), 0, -sample
        while time.monotonic() - began < minutes * 60:
            await asyncio.sleep(every)
            await session.ops.shift(CYCLE[(shifts + 1) % len(CYCLE)])
            shifts += 1
            if sample and time.monotonic() - began - sampled >= sample:
                sampled = time.monotonic() - began
                seconds, peak = await status_sample(state_dir, config)
                records = prefilled + grown[0] + shifts
                agent_rss = agent_usage(state_dir)[0]
                samples.append((sampled, records, seconds, peak, agent_rss))
        if grower is not None:
            grower.cancel()
        stop.set()
        tally = await load
        end = agent_usage(state_dir)
        check = await session.backend.journal.check("soak")
        await session.close()
    elapsed = time.monotonic() - began
    rows = [
        ("duration", f"{elapsed / 60:.1f} min", ""),
        (
            "shifts",
            f"{shifts}",
            f"one every {every:g} s, journaled; `history --check`: "
            + ("intact" if check.intact else "; ".join(check.problems[:3])),
        ),
        ("requests", f"{tally.total:,}", f"{tally.total / elapsed:,.0f}/s from {clients} clients"),
        ("failed requests", f"{tally.failed}", "; ".join(tally.failures[:3])),
        ("client connections", f"{tally.connections}", "kept alive throughout"),
        ("agent RSS", f"{start[0]:.1f} MB → {end[0]:.1f} MB", ""),
        ("agent open fds", f"{start[1]} → {end[1]}", ""),
        ("agent peak RSS", f"{end[2]:.1f} MB", "the most it ever held, start-up included"),
    ]
    if samples:
        first, last = samples[0], samples[-1]
        rows += [
            (
                "journal records",
                f"{first[1]:,} → {last[1]:,}",
                f"+{growth:g}/s, {prefilled:,} prefilled",
            ),
            (
                "`molt status` time",
                f"{first[2]:.2f} s → {last[2]:.2f} s",
                f"max {max(x[2] for x in samples):.2f} s",
            ),
            ("`molt status` peak RSS", f"{first[3]:.0f} MB → {last[3]:.0f} MB", ""),
        ]
    return rows, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between shifts")
    parser.add_argument("--prefill", type=int, default=0, help="journal records stored first")
    parser.add_argument("--grow", type=float, default=0.0, help="journal records added a second")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between status runs")
    args = parser.parse_args()
    rows, samples = asyncio.run(
        soak(args.minutes, args.clients, args.every, args.prefill, args.grow, args.sample)
    )
    print("| measure | result | |\n|---|---|---|")
    for measure, result, note in rows:
        print(f"| {measure} | {result} | {note} |")
    if samples:
        print("\n| at | journal records | status | status peak RSS | agent RSS |")
        print("|---|---|---|---|---|")
        for at, records, seconds, peak, agent in samples:
            cells = [f"{at / 60:.1f} min", f"{records:,}", f"{seconds:.2f} s"]
            cells += [f"{peak:.0f} MB", f"{agent:.1f} MB"]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
