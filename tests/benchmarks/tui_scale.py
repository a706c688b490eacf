"""How the fleet view holds up at scale: 10 generations × 500 instances, each column
with its traffic line and sparklines (refreshed every second, as a meter would), 2,000
health events a second from a synthetic driver for 10 s, while an operator presses ←/→.

Prints keystroke-to-paint latency (p50/p95/max), event-to-screen latency, paints and
reads per second, and the process's CPU share (app + driver; the driver alone is
measured first and shown apart). Target: keystroke-to-paint p95 ≤ 50 ms.

    .venv/bin/python tests/benchmarks/tui_scale.py [--seconds 10] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.config.fleet_config import FleetConfig  # noqa: E402
from backends.core.events import Event  # noqa: E402
from backends.core.model import FleetSnapshot, Health, utcnow  # noqa: E402
from tests.support.synthetic import SyntheticBackend  # noqa: E402
from tui.app import MoltApp, tune_gc  # noqa: E402
from tui.screens.fleet import FleetScreen  # noqa: E402

GENERATIONS, INSTANCES = 10, 500
TICK = 0.01  # the driver publishes a batch every 10 ms
KEY_EVERY = 0.2  # an operator's key press every 200 ms
TRAFFIC_EVERY = 1.0  # new traffic numbers and sparkline steps, as a meter reports them
STEPS = 60  # sparkline steps kept per generation (10 minutes of 10 s steps)
MIX = [Health.HEALTHY] * 8 + [Health.PENDING, Health.UNHEALTHY]
Step = tuple[float | None, float | None]  # a sparkline step: (req/s, error rate)


def big_fleet() -> SyntheticBackend:
    backend = SyntheticBackend("big", clock=utcnow)
    for n in range(1, GENERATIONS + 1):
        healths = [random.choice(MIX) for _ in range(INSTANCES)]
        weight = 100 // GENERATIONS + (100 % GENERATIONS if n == GENERATIONS else 0)  # all judged
        backend.add_generation(f"v{n}", healths, weight=weight, age=timedelta(minutes=60 - n))
    histories = {g: [_step(n) for _ in range(STEPS)] for n, g in enumerate(backend.generations)}
    set_traffic(backend, histories)
    return backend


def _step(n: int) -> Step:
    """One 10 s step of a generation's request rate and error rate (the newest does worse)."""
    errors = 0.2 if n == GENERATIONS - 1 else 0.002
    return random.uniform(20, 60), random.uniform(0, errors)


def set_traffic(backend: SyntheticBackend, histories: Mapping[str, Sequence[Step]]) -> None:
    """Every generation's traffic line and sparklines, handed over in one read."""
    for index, (generation, history) in enumerate(histories.items()):
        rps, error_rate = history[-1]
        last = index == len(histories) - 1
        backend.set_traffic(
            generation, rps, error_rate, random.uniform(10, 40), history=history, publish=last
        )


async def drive(backend: SyntheticBackend, rate: int, seconds: float) -> int:
    """Flip random instances' health at ``rate`` events a second; returns how many."""
    loop = asyncio.get_running_loop()
    per_tick = max(1, round(rate * TICK))
    ids = [i.id for g in backend.generations.values() for i in g.instances]
    histories = {
        g.id: list(zip(g.traffic.history.rps, g.traffic.history.error_rate, strict=True))
        for g in (x.to_model() for x in backend.generations.values())
        if g.traffic is not None and g.traffic.history is not None
    }
    sent, start, traffic_at = 0, loop.time(), loop.time()
    while (now := loop.time()) - start < seconds:
        due = int((now - start) * rate) - sent
        for _ in range(min(due, per_tick * 5)):
            backend.set_health(random.choice(ids), random.choice(MIX), "synthetic")
            sent += 1
        if now - traffic_at >= TRAFFIC_EVERY:
            for n, history in enumerate(histories.values()):
                history[:] = [*history[1:], _step(n)]
            set_traffic(backend, histories)
            traffic_at = now
        await asyncio.sleep(TICK)
    return sent


async def driver_alone(rate: int, seconds: float) -> float:
    """CPU share of the driver with nobody painting (a consumer drains the events)."""
    backend = big_fleet()
    stream = backend.watch()
    drain = asyncio.ensure_future(_drain(stream))
    cpu, wall = time.process_time(), time.perf_counter()
    await drive(backend, rate, seconds)
    share = (time.process_time() - cpu) / (time.perf_counter() - wall)
    drain.cancel()
    return share


async def _drain(stream: AsyncIterator[Event]) -> None:
    async for _ in stream:
        pass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Probe:
    """Timestamps of paints (compositor output, rendered to terminal bytes as a real
    driver would) and of events reaching the event log."""

    def __init__(self, app: MoltApp) -> None:
        self.app = app
        self.paints = 0
        self.painted = asyncio.Event()
        self.painted_at: list[float] = []  # when each paint's bytes were ready
        self.event_delays: list[float] = []
        original = app._display

        def display(screen: Any, update: Any) -> None:  # Textual's private hook
            if update is not None:
                update.render_segments(app.console)  # the bytes a terminal would get
                self.paints += 1
                self.painted_at.append(time.perf_counter())
                self.painted.set()
            original(screen, update)

        app._display = display  # type: ignore[method-assign,assignment]

    def watch_events(self, screen: FleetScreen) -> None:
        original = screen.paint_events

        def paint_events(events: list[Event]) -> None:
            now = datetime.now(UTC)
            self.event_delays.extend((now - e.at).total_seconds() for e in events)
            original(events)

        screen.paint_events = paint_events  # type: ignore[method-assign]


async def measure(rate: int, seconds: float) -> dict[str, float]:
    backend = big_fleet()
    fleet = FleetConfig(name="big", backend="synthetic", settings=None)
    app = MoltApp(
        [fleet],
        state_dir=Path("/nonexistent"),
        opener=lambda _fleet, _dir, *, read_only: backend.open_as(read_only=read_only),
    )
    reads = 0
    original_snapshot = backend.snapshot

    async def counting_snapshot() -> FleetSnapshot:
        nonlocal reads
        reads += 1
        return await original_snapshot()

    backend.snapshot = counting_snapshot  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)) as pilot:
        probe = Probe(app)
        while not (isinstance(app.screen, FleetScreen) and app.screen.snapshot is not None):
            await pilot.pause(0.05)
        screen = app.screen
        probe.watch_events(screen)
        await pilot.pause(0.5)
        cpu, wall = time.process_time(), time.perf_counter()
        paints0, reads0 = probe.paints, reads
        driver = asyncio.ensure_future(drive(backend, rate, seconds))
        latencies = await press_keys(app, screen, probe, driver)
        sent = await driver
        elapsed = time.perf_counter() - wall
        cpu_share = (time.process_time() - cpu) / elapsed
        paints, reads_done = probe.paints - paints0, reads - reads0
    return {
        "events_per_s": sent / elapsed,
        "key_p50_ms": statistics.median(latencies) * 1000,
        "key_p95_ms": percentile(latencies, 0.95) * 1000,
        "key_max_ms": max(latencies) * 1000,
        "keys": len(latencies),
        "event_p50_ms": percentile(probe.event_delays, 0.5) * 1000,
        "event_p95_ms": percentile(probe.event_delays, 0.95) * 1000,
        "paints_per_s": paints / elapsed,
        "key_paints_per_s": len(latencies) / elapsed,
        "reads_per_s": reads_done / elapsed,
        "cpu_share": cpu_share,
    }


async def press_keys(
    app: MoltApp, screen: FleetScreen, probe: Probe, driver: asyncio.Future[int]
) -> list[float]:
    """← and → in turn; latency = key posted → the first paint after the selection moved.

    The moment the selection moves is taken by a watcher (it runs inside the key's
    handler), and the paint is the first one that ended after it: a paint that already
    showed the move counts even when this coroutine only wakes up after it."""
    latencies: list[float] = []
    moved: list[float] = []
    screen.watch(screen, "selected", lambda _: moved.append(time.perf_counter()), init=False)
    direction = "left"
    while not driver.done():
        await asyncio.sleep(KEY_EVERY)
        before = screen.selected
        ids = [g.id for g in screen.snapshot.generations] if screen.snapshot else []
        if before == ids[0] or before == ids[-1]:
            direction = "right" if before == ids[0] else "left"
        started = time.perf_counter()
        app.simulate_key(direction)
        while screen.selected == before:
            await asyncio.sleep(0.0005)
        while not probe.painted_at or probe.painted_at[-1] < moved[-1]:
            probe.painted.clear()
            await probe.painted.wait()
        first = next(t for t in probe.painted_at if t >= moved[-1])
        latencies.append(first - started)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=2000)
    args = parser.parse_args()
    random.seed(7)
    tune_gc()  # as `molt` does before it opens the TUI
    alone = asyncio.run(driver_alone(args.rate, min(3.0, args.seconds)))
    result = asyncio.run(measure(args.rate, args.seconds))
    print(
        f"fleet view at scale: {GENERATIONS} generations × {INSTANCES} instances, "
        f"each with a traffic line and sparklines (new every {TRAFFIC_EVERY:g} s), "
        f"{args.rate} health events/s for {args.seconds:.0f} s, 120×36\n"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| health events delivered | {result['events_per_s']:.0f} /s |")
    print(
        f"| keystroke → paint p50 / p95 / max | {result['key_p50_ms']:.1f} / "
        f"{result['key_p95_ms']:.1f} / {result['key_max_ms']:.1f} ms "
        f"({result['keys']:.0f} keys) |"
    )
    print(
        f"| health event → on screen p50 / p95 | {result['event_p50_ms']:.0f} / "
        f"{result['event_p95_ms']:.0f} ms |"
    )
    fleet_paints = result["paints_per_s"] - result["key_paints_per_s"]
    print(
        f"| screen paints | {result['paints_per_s']:.1f} /s "
        f"(≈{fleet_paints:.1f} /s from fleet updates, the rest from key presses) |"
    )
    print(f"| fleet re-reads (snapshots) | {result['reads_per_s']:.1f} /s |")
    print(f"| CPU share, app + driver (one process) | {result['cpu_share'] * 100:.0f}% of a core |")
    print(f"| CPU share, driver alone | {alone * 100:.0f}% of a core |")
    ok = result["key_p95_ms"] <= 50
    print(f"\ntarget keystroke → paint p95 ≤ 50 ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
