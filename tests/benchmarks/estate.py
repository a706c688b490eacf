"""The estate at size: 20 fleets (half local, half SSH on the rig, plus one AWS fleet on
moto), three generations each weighted 80/15/5, traffic on every one.

Measures, on the real App (Textual's pilot, headless, 150×45) and the real engine:

- first paint, cold: App start → every fleet's row painted with its numbers (SSH
  handshakes, the journals' first reads included; imports not);
- refresh, warm: one ``Estate.refresh()`` of every fleet (own sessions, after a first
  read), and the estate screen's refresh cycle (its reads start → the last fleet's row
  painted), while keys are pressed;
- key → paint p95 on the estate screen while it refreshes: ↓/↑ through the rows, and
  ``/`` then typing a filter (each character and backspace timed), as tui_scale.py does;
- SSH commands and AWS requests per poll, per fleet — against one ``molt status FLEET``
  read (a fresh session's first read: what the command does) and a warm re-read.

Targets: first paint ≤ 1.5 s cold, refresh ≤ 0.5 s warm, key → paint p95 ≤ 50 ms.
Prints a markdown table with the machine's load, and beside each wall time the App's
own CPU (its event loop's thread), which does not grow with the machine's load: on a
busy 2-core machine the tail is mostly the wait for a core. ``--slowest N`` adds the
event loop's slowest steps and its CPU per refresh cycle by task. Needs root for the SSH
rig (without it every fleet is local, and it says so). Not part of the test suite.

    .venv/bin/python tests/benchmarks/estate.py [--fleets 20] [--aws 1] [--seconds 20]
    .venv/bin/python tests/benchmarks/estate.py --fleets 6 --seconds 5   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.config.drivers import open_backend  # noqa: E402
from backends.config.fleet_config import FleetConfig  # noqa: E402
from backends.config.loading import load_config  # noqa: E402
from backends.core.estate import FleetSummary  # noqa: E402
from backends.engine.estate import Estate  # noqa: E402
from backends.engine.session import FleetSession  # noqa: E402
from backends.engine.status import read_status  # noqa: E402
from tests.benchmarks.estate_fleets import Fleets, start  # noqa: E402
from tui.app import MoltApp, tune_gc  # noqa: E402
from tui.screens.estate import REFRESH_EVERY, EstateScreen  # noqa: E402
from tui.widgets.estate_table import EstateTable  # noqa: E402

TARGETS = {"first": 1.5, "refresh": 0.5, "key_p95": 0.050}
KEY_EVERY = 0.1  # an operator's key press every 100 ms
SIZE = (150, 45)
WARM_REFRESHES = 10
FILTER = "ssh"  # typed after `/`, then erased


class Calls:
    """SSH commands (at the connection: commands, SFTP actions, socket streams) and AWS
    requests (botocore's ``before-send``, retries included), from now on."""

    def __init__(self) -> None:
        self.ssh: Counter[str] = Counter()
        self.aws: Counter[str] = Counter()
        from backends.ssh.connections import HostConnection

        for name in ("run", "with_sftp", "open_unix", "process"):
            real = getattr(HostConnection, name)

            def counted(conn: Any, *args: Any, _real: Any = real, _name: str = name, **kw: Any):
                self.ssh[_name] += 1
                return _real(conn, *args, **kw)

            setattr(HostConnection, name, counted)

    def opener(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> Any:
        """open_backend, with every AWS request counted."""
        backend = open_backend(fleet, state_dir, read_only=read_only)
        if fleet.backend == "aws":

            def sent(event_name: str, **_: Any) -> None:
                self.aws[event_name.rsplit(".", 1)[-1]] += 1

            backend.api.session.events.register("before-send", sent)  # type: ignore[attr-defined]
        return backend

    def totals(self) -> tuple[int, int]:
        return sum(self.ssh.values()), sum(self.aws.values())


class Probe:
    """When each paint's bytes were ready (as a terminal would get them, cf.
    tui_scale.py), and the first paint showing every fleet's numbers."""

    def __init__(self, app: MoltApp, started: float, fleets: int) -> None:
        self.painted = asyncio.Event()
        self.painted_at: list[float] = []
        self.first_full: float | None = None
        original = app._display

        def display(screen: Any, update: Any) -> None:  # Textual's private hook
            if update is not None:
                update.render_segments(app.console)
                now = time.perf_counter()
                self.painted_at.append(now)
                self.painted.set()
                if self.first_full is None and every_row_read(app, fleets):
                    self.first_full = now - started
            original(screen, update)

        app._display = display  # type: ignore[method-assign,assignment]

    async def after(self, moment: float) -> float:
        """The first paint that ended at or after ``moment``."""
        while not self.painted_at or self.painted_at[-1] < moment:
            self.painted.clear()
            await self.painted.wait()
        return self.painted_at[bisect.bisect_left(self.painted_at, moment)]


def every_row_read(app: MoltApp, fleets: int) -> bool:
    """Every fleet's row on the estate screen shows its numbers (healthy x/y)."""
    screen = app.screen
    if not isinstance(screen, EstateScreen) or not screen.is_mounted:
        return False
    rows = [screen.query_one(EstateTable).row(n) for n in screen.summaries]
    return len(rows) == fleets and all(r is not None and r.cells["healthy"] for r in rows)


class Cycles:
    """The screen's refresh cycles: when its reads start (the estate's ``_read`` is
    called once per fleet, together) and when its last fleet has been handed to the
    screen (which painted it before asking for the next); calls counted at each start."""

    def __init__(self, estate: Estate, calls: Calls) -> None:
        self.started: list[float] = []
        self.handed: list[float] = []
        self.cpu_at: dict[float, float] = {}  # the main thread's CPU at each start and end
        self.calls_at: list[tuple[int, int]] = []
        self.first_reads: dict[str, tuple[str, float]] = {}  # fleet → (backend, seconds)
        count = len(estate.names)
        real_read, real_follow = estate._read, estate.follow

        def read(fleet: Any) -> Coroutine[Any, Any, FleetSummary]:
            now = time.perf_counter()
            if not self.started or now - self.started[-1] > 0.2:
                self.started.append(now)
                self.cpu_at[now] = time.thread_time()
                self.calls_at.append(calls.totals())
            return timed(fleet, now)

        async def timed(fleet: Any, began: float) -> FleetSummary:
            try:
                return await real_read(fleet)
            finally:
                took = time.perf_counter() - began
                self.first_reads.setdefault(fleet.config.name, (fleet.config.backend, took))

        async def follow(period: float) -> AsyncIterator[FleetSummary]:
            seen = 0
            async for summary in real_follow(period):
                yield summary
                seen += 1
                if seen % count == 0:
                    self.handed.append(now := time.perf_counter())
                    self.cpu_at[now] = time.thread_time()

        estate._read = read  # type: ignore[method-assign]
        estate.follow = follow  # type: ignore[method-assign]


async def measure_app(
    fleets: Fleets, configs: list[FleetConfig], calls: Calls, seconds: float
) -> dict[str, Any]:
    started = time.perf_counter()
    app = MoltApp(configs, state_dir=fleets.state_dir, opener=calls.opener)
    probe = Probe(app, started, len(configs))
    cycles = Cycles(app.estate, calls)
    cpu = time.process_time()
    async with app.run_test(size=SIZE) as pilot:
        while probe.first_full is None:
            if time.perf_counter() - started > 60:
                raise SystemExit("the estate did not show every fleet within 60 s")
            await pilot.pause(0.01)
        first, first_cpu = probe.first_full, time.process_time() - cpu
        slowest = {}
        for backend, took in cycles.first_reads.values():
            slowest[backend] = max(took, slowest.get(backend, 0.0))
        boot = (probe.painted_at[0] - started, cycles.started[0] - started, slowest, first_cpu)
        screen = app.screen
        assert isinstance(screen, EstateScreen)
        while len(cycles.handed) < 2:  # one warm cycle done
            await pilot.pause(0.05)
        from_cycle = len(cycles.started)
        paints = count_paints(screen)
        busy, cpu, wall = machine_busy(), time.process_time(), time.perf_counter()
        stalls: list[float] = []
        watching = asyncio.ensure_future(watch_loop(stalls))
        with SlowSteps() as slow:
            latencies = await press_keys(app, screen, probe, seconds)
        watching.cancel()
        cpu_share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        spans = max(1, len(cycles.started) - from_cycle)
        paint_calls, paint_cpu = paints[0] / spans, paints[1] / spans
        machine = machine_busy(busy)
        table = screen.query_one(EstateTable)
        rows = [r for n in screen.summaries if (r := table.row(n)) is not None]
        traffic = sum(1 for r in rows if r.cells["req/s"] not in ("", "—"))
        await pilot.pause(REFRESH_EVERY * 1.5)  # the last cycle ends
        painted, cycle_cpu = [], []
        for handed in cycles.handed:  # each cycle's start: the last one before its end
            begin = cycles.started[bisect.bisect_left(cycles.started, handed) - 1]
            if len(cycles.started) > from_cycle and begin >= cycles.started[from_cycle]:
                painted.append(await probe.after(handed) - begin)
                cycle_cpu.append(cycles.cpu_at[handed] - cycles.cpu_at[begin])
        ssh_poll, aws_poll = per_cycle(cycles.calls_at[from_cycle:])
    return {
        "first": first,
        "boot": boot,
        "painted": painted,
        "cycle_cpu": cycle_cpu,
        "paint": (paint_calls, paint_cpu),
        "slow": sorted(slow.steps, reverse=True),
        "by_kind": [(kind, cpu / spans) for kind, cpu in slow.by_kind.most_common(8)],
        "ssh_kinds": dict(calls.ssh),
        "keys": latencies,
        "screen_poll": (ssh_poll, aws_poll),
        "traffic": traffic,
        "stalls": stalls,
        "cpu_share": cpu_share,
        "machine": machine,
    }


def count_paints(screen: EstateScreen) -> list[float]:
    """[calls, CPU seconds] of the screen's ``paint()`` (every row rebuilt) from now on."""
    counted = [0.0, 0.0]
    real = screen.paint

    def paint() -> None:
        began = time.thread_time()
        real()
        counted[0] += 1
        counted[1] += time.thread_time() - began

    screen.paint = paint  # type: ignore[method-assign]
    return counted


class SlowSteps:
    """The event loop's slowest steps (each callback or task step run), by what ran:
    where a key press waits when the App itself is busy (``--slowest``)."""

    def __init__(self) -> None:
        self.steps: list[tuple[float, str]] = []
        self.by_kind: Counter[str] = Counter()  # CPU seconds by task (coroutine) or callback
        self._real = asyncio.events.Handle._run

    def __enter__(self) -> SlowSteps:
        real, steps, by_kind = self._real, self.steps, self.by_kind

        def run(handle: asyncio.events.Handle) -> None:
            began = time.thread_time()
            real(handle)
            took = time.thread_time() - began
            callback = handle._callback  # type: ignore[attr-defined]
            owner = getattr(callback, "__self__", None)
            if isinstance(owner, asyncio.Task):
                coro = owner.get_coro()
                by_kind[getattr(coro, "__qualname__", repr(coro))] += took
            else:
                by_kind[getattr(callback, "__qualname__", repr(callback))] += took
            if took > 0.02:
                what = repr(owner) if isinstance(owner, asyncio.Task) else repr(callback)
                steps.append((took, what[:300]))

        asyncio.events.Handle._run = run  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.events.Handle._run = self._real  # type: ignore[method-assign]


async def watch_loop(stalls: list[float]) -> None:
    """How late the event loop wakes a 10 ms sleep: the stalls a key press can meet."""
    while True:
        asleep = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - asleep - 0.01)


def machine_busy(since: tuple[int, int] | None = None) -> Any:
    """All cores' (busy, total) jiffies now; with ``since``: the busy share since then."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    now = (sum(fields) - idle, sum(fields))
    if since is None:
        return now
    return (now[0] - since[0]) / max(1, now[1] - since[1])


def per_cycle(marks: list[tuple[int, int]]) -> tuple[float, float]:
    """SSH commands and AWS requests per refresh cycle (between cycle starts)."""
    if len(marks) < 2:
        return float("nan"), float("nan")
    spans = len(marks) - 1
    return (marks[-1][0] - marks[0][0]) / spans, (marks[-1][1] - marks[0][1]) / spans


async def press_keys(app: MoltApp, screen: EstateScreen, probe: Probe, seconds: float):
    """↓ to the bottom, ↑ to the top, then ``/`` and the filter typed and erased, over and
    over; latency = key posted → the first paint after its effect (the selection moved,
    the filter changed), the effect's moment taken by a watcher inside the handler."""
    table = screen.query_one(EstateTable)
    changed: list[float] = []
    mark: Callable[[object], None] = lambda _: changed.append(time.perf_counter())  # noqa: E731
    screen.watch(table, "selected", mark, init=False)
    screen.watch(table, "filter_text", mark, init=False)
    latencies: dict[str, list[float]] = {"arrows": [], "typing": [], "cpu": []}

    async def timed(key: str, kind: str) -> None:
        await asyncio.sleep(KEY_EVERY)
        seen, posted, cpu = len(changed), time.perf_counter(), time.thread_time()
        app.simulate_key(key)
        async with asyncio.timeout(10):
            while len(changed) == seen:
                await asyncio.sleep(0.0005)
            latencies[kind].append(await probe.after(changed[seen]) - posted)
        latencies["cpu"].append(time.thread_time() - cpu)  # the App's own work meanwhile

    async def untimed(key: str) -> None:
        await asyncio.sleep(KEY_EVERY)
        app.simulate_key(key)
        await asyncio.sleep(0.05)

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for direction in ("down", "up"):
            edge = -1 if direction == "down" else 0
            while table.shown and table.selected != table.shown[edge]:
                await timed(direction, "arrows")
        await untimed("slash")
        for char in FILTER:
            await timed(char, "typing")
        for _ in FILTER:
            await timed("backspace", "typing")
        await untimed("escape")
    return latencies


async def measure_estate(configs: list[FleetConfig], state_dir: Path, calls: Calls):
    """Estate.refresh() of every fleet with its own sessions (never started, as the
    estate's own are; opened here so AWS requests are counted): the first (cold), then
    warm ones; SSH commands and AWS requests per warm refresh."""
    sessions: dict[str, FleetSession] = {}

    def session_for(fleet: FleetConfig) -> FleetSession:
        if fleet.name not in sessions:
            sessions[fleet.name] = FleetSession(
                fleet, state_dir, read_only=True, opener=calls.opener
            )
        return sessions[fleet.name]

    try:
        async with Estate(configs, state_dir, read_only=True, session_for=session_for) as estate:
            started = time.perf_counter()
            await estate.refresh()
            cold = time.perf_counter() - started
            warm, cpu = [], 0.0
            before = calls.totals()
            for _ in range(WARM_REFRESHES):
                await asyncio.sleep(0.3)
                started, cpu_before = time.perf_counter(), time.process_time()
                summaries = await estate.refresh()
                warm.append(time.perf_counter() - started)
                cpu += time.process_time() - cpu_before
            after = calls.totals()
    finally:
        await asyncio.gather(*(s.close() for s in sessions.values()))
    unread = [s.name for s in summaries if not s.reachable]
    per = [(b - a) / WARM_REFRESHES for a, b in zip(before, after, strict=True)]
    return cold, warm, per, unread, cpu / WARM_REFRESHES


async def molt_status_calls(fleet: FleetConfig, state_dir: Path, calls: Calls):
    """What one ``molt status FLEET`` costs (a fresh session's first read) and what a
    re-read of it costs (a poll): (SSH commands + AWS requests) each."""
    session = FleetSession(fleet, state_dir, read_only=True, opener=calls.opener)
    try:
        before = sum(calls.totals())
        await read_status(session)
        middle = sum(calls.totals())
        await read_status(session)
        return middle - before, sum(calls.totals()) - middle
    finally:
        await session.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


def report(
    fleets: Fleets, results: dict[str, Any], loads: list[tuple[float, ...]], slowest_steps: int
) -> bool:
    first, painted, keys = results["first"], results["painted"], results["keys"]
    cold, warm = results["cold"], results["warm"]
    every_key = keys["arrows"] + keys["typing"]
    print(
        f"\nestate of {len(fleets.names)} fleets: {len(fleets.local)} local (one agent), "
        f"{len(fleets.ssh)} SSH (rig: sshd + one HAProxy each), {len(fleets.aws)} AWS (moto); "
        f"3 generations each at 80/15/5{' (AWS: 1)' if fleets.aws else ''}, "
        f"traffic on every entry; {SIZE[0]}×{SIZE[1]}"
    )
    print(f"rows showing req/s after the key presses: {results['traffic']} of {len(fleets.names)}")
    for note in fleets.notes:
        print(f"note: {note}")
    print("\n| measure | measured | target | |")
    print("|---|---|---|---|")
    print(f"| first paint, cold (App start → every row with numbers) | {first:.2f} s "
          f"| ≤ 1.5 s | {verdict(first, TARGETS['first'])} |")  # fmt: skip
    first_paint, reads_from, slowest, first_cpu = results["boot"]
    took = ", ".join(f"{backend} {ms(t)}" for backend, t in sorted(slowest.items()))
    print(f"| … of which: first paint of the App {ms(first_paint)}; reads started at "
          f"{ms(reads_from)}; slowest first read: {took}; CPU used {ms(first_cpu)} "
          "| | | |")  # fmt: skip
    refresh = statistics.median(warm)
    print(f"| `Estate.refresh()`, warm (median / p95 of {len(warm)}) | {ms(refresh)} / "
          f"{ms(pct(warm, 0.95))} | ≤ 0.5 s "
          f"| {verdict(refresh, TARGETS['refresh'])} |")  # fmt: skip
    if painted:
        cycle = statistics.median(painted)
        print(f"| screen refresh cycle, warm: reads start → last row painted (median / max "
              f"of {len(painted)}) | {ms(cycle)} / {ms(max(painted))} | ≤ 0.5 s "
              f"| {verdict(cycle, TARGETS['refresh'])} |")  # fmt: skip
        own = results["cycle_cpu"]
        print(f"| … the App's own CPU per cycle (reads, summaries, paints; its loop's thread), "
              f"median / max | {ms(statistics.median(own))} / {ms(max(own))} | | |")  # fmt: skip
        calls, cpu = results["paint"]
        print(f"| … of which the screen's `paint()` after each fleet's read (all rows "
              f"rebuilt): calls / CPU per cycle "
              f"| {calls:.0f} / {ms(cpu)} | | |")  # fmt: skip
    p95 = pct(every_key, 0.95)
    print(f"| key → paint while refreshing, p50 / p95 / max ({len(every_key)} keys) "
          f"| {ms(statistics.median(every_key))} / {ms(p95)} / {ms(max(every_key))} "
          f"| p95 ≤ 50 ms | {verdict(p95, TARGETS['key_p95'])} |")  # fmt: skip
    for kind, label in (("arrows", "↓/↑"), ("typing", "`/` then typing")):
        values = keys[kind]
        print(f"| … {label}: p50 / p95 ({len(values)} keys) | {ms(statistics.median(values))} "
              f"/ {ms(pct(values, 0.95))} | | |")  # fmt: skip
    print(f"| … the App's own CPU from key to paint (its loop's thread), p50 / p95 / max "
          f"| {ms(statistics.median(keys['cpu']))} / {ms(pct(keys['cpu'], 0.95))} / "
          f"{ms(max(keys['cpu']))} | | |")  # fmt: skip
    print(f"| … CPU of one warm `Estate.refresh()` (this process, all threads) "
          f"| {ms(results['refresh_cpu'])} | | |")  # fmt: skip
    stalls = results["stalls"]
    print(f"| event loop stalls while refreshing (a 10 ms sleep woken late), p95 / max "
          f"| {ms(pct(stalls, 0.95))} / {ms(max(stalls))} | | |")  # fmt: skip
    print(f"| CPU while refreshing: the App's process / the whole machine "
          f"| {results['cpu_share'] * 100:.0f}% of a core / "
          f"{results['machine'] * 100:.0f}% of {os.cpu_count()} cores | | |")  # fmt: skip
    print(f"| `Estate.refresh()` cold (own sessions: handshakes, whole journals) "
          f"| {cold:.2f} s | | |")  # fmt: skip
    per_fleet = results["per_fleet"]
    for backend, names in (("SSH", fleets.ssh), ("AWS", fleets.aws)):
        if not names:
            continue
        index = 0 if backend == "SSH" else 1
        status_cold, status_warm = results[f"status_{backend}"]
        screen = results["screen_poll"][index] / len(names)
        print(f"| {backend} calls per fleet per poll: screen / `Estate.refresh()` / "
              f"`molt status FLEET` (re-read) | {screen:.1f} / "
              f"{per_fleet[index] / len(names):.1f} / {status_cold} ({status_warm}) | "
              f"≤ molt status | {verdict(screen, status_cold)} |")  # fmt: skip
    print(f"| `molt status` (the binary, every fleet) | {results['cli']:.2f} s | | |")
    shown = " → ".join(" ".join(f"{x:.1f}" for x in load) for load in loads)
    print(f"| load average (1/5/15 min), start → end, {os.cpu_count()} cores | {shown} | | |")
    if slowest_steps:
        print(f"\nthe event loop's slowest steps while refreshing (CPU, of {len(results['slow'])} "
              "over 20 ms):")  # fmt: skip
        for took, what in results["slow"][:slowest_steps]:
            print(f"  {ms(took)}  {what}")
        print("the event loop's CPU per refresh cycle, by task or callback:")
        for kind, cpu in results["by_kind"]:
            print(f"  {ms(cpu)}  {kind}")
        print(f"SSH calls by kind, whole run: {results['ssh_kinds']}")
    if results["unread"]:
        print(f"\nunreachable at the end: {', '.join(results['unread'])}")
    return (
        first <= TARGETS["first"]
        and refresh <= TARGETS["refresh"]
        and (not painted or statistics.median(painted) <= TARGETS["refresh"])
        and p95 <= TARGETS["key_p95"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", type=int, default=20, help="local + SSH fleets (half each)")
    parser.add_argument("--aws", type=int, default=1, help="AWS fleets on moto (0: none)")
    parser.add_argument("--hosts", type=int, default=3, help="sshd hosts the SSH fleets share")
    parser.add_argument("--rate", type=float, default=5.0, help="requests/s on each fleet")
    parser.add_argument("--seconds", type=float, default=20.0, help="of key presses")
    parser.add_argument(
        "--slowest", type=int, default=0, help="print the event loop's N slowest steps"
    )
    args = parser.parse_args()
    loads = [os.getloadavg()]
    print(f"starting {args.fleets + args.aws} fleets (3 generations each)…", flush=True)
    began = time.perf_counter()
    fleets = start(args.fleets, aws=args.aws, hosts=args.hosts, rate=args.rate)
    try:
        print(f"  ready in {time.perf_counter() - began:.0f} s; traffic on", flush=True)
        time.sleep(3)  # traffic seen by every meter
        configs = list(load_config(str(fleets.config)).fleets.values())
        calls = Calls()
        tune_gc()  # as `molt` does before it opens the TUI
        results: dict[str, Any] = asyncio.run(measure_app(fleets, configs, calls, args.seconds))
        print("  app measured", flush=True)
        cold, warm, per_fleet, unread, refresh_cpu = asyncio.run(
            measure_estate(configs, fleets.state_dir, calls)
        )
        results |= {
            "cold": cold,
            "warm": warm,
            "per_fleet": per_fleet,
            "unread": unread,
            "refresh_cpu": refresh_cpu,
        }
        by_name = {c.name: c for c in configs}
        for backend, names in (("SSH", fleets.ssh), ("AWS", fleets.aws)):
            if names:
                results[f"status_{backend}"] = asyncio.run(
                    molt_status_calls(by_name[names[0]], fleets.state_dir, calls)
                )
        started = time.perf_counter()
        fleets.molt("status")
        results["cli"] = time.perf_counter() - started
        loads.append(os.getloadavg())
    finally:
        fleets.stop()
    return 0 if report(fleets, results, loads, args.slowest) else 1


if __name__ == "__main__":
    sys.exit(main())
