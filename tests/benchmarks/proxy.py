"""Throughput and latency of the local proxy: direct to an instance vs through Molt,
and the cost of recording traffic (the proxy with its meter on vs off, in one run).

Run: .venv/bin/python tests/benchmarks/proxy.py [--seconds 10] [--clients 8]
Targets: through the proxy ≥ 50% of direct throughput, ≤ 2 ms added p50; recording
costs at most 5% of the proxy's throughput and 0.1 ms of its p50.

The agent's proxy (recording, on uvloop) is measured as Molt runs it. For on vs off,
two more proxies run in this process on uvloop, one with a meter and one without,
in front of the same instance, measured in turn (twice each, the better kept).

The load comes from ``wrk`` (Debian package wrk) when it is installed: a load generator
in C leaves the CPU to what is measured. Without it, a Python (aiohttp) generator is
used, which on a small machine takes a core of its own and understates the proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.core.model import GenerationSpec  # noqa: E402
from backends.engine.operations import Operations  # noqa: E402
from backends.engine.session import FleetSession  # noqa: E402
from backends.local.driver import LocalBackend  # noqa: E402
from backends.local.meter import Meter  # noqa: E402
from backends.local.proxy import Proxy  # noqa: E402
from backends.local.routing import Route, Router, Upstream  # noqa: E402
from tests.support.local import local_fleet, state_dir_env  # noqa: E402


async def hammer(url: str, clients: int, seconds: float) -> tuple[float, list[float], int]:
    """(requests/s, latencies in ms, failures) from ``clients`` keep-alive clients."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal failures
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            while (start := time.perf_counter()) < deadline:
                try:
                    async with session.get(url) as answer:
                        await answer.read()
                        if answer.status != 200:
                            failures += 1
                except aiohttp.ClientError:
                    failures += 1
                latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(latencies) / (time.perf_counter() - began), latencies, failures


def wrk(url: str, clients: int, seconds: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, failures) measured by wrk."""
    out = subprocess.run(
        ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    failures = int(errors.group(1)) if errors else 0
    failures += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return rate, latency("50%"), latency("99%"), failures


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def main(seconds: float, clients: int) -> None:
    with state_dir_env() as state_dir:
        fleet = local_fleet("bench", count=1)
        backend = LocalBackend(fleet, state_dir)
        ops = Operations(backend)
        await ops.launch(GenerationSpec(version="v1", count=1))
        await FleetSession.around(backend).wait_settled("g1", timeout=30)
        await ops.promote("g1")
        snapshot = await backend.snapshot()
        instance = snapshot.generations[0].instances[0].address
        generator = "wrk" if shutil.which("wrk") else "python aiohttp"
        port = int(instance.rpartition(":")[2])
        recording, silent = await side_proxies(port)

        async def measure(address: str) -> tuple[float, float, float, int]:
            url = f"http://{address}/"
            if generator == "wrk":
                return await asyncio.to_thread(wrk, url, clients, seconds)
            await hammer(url, clients, 1.0)  # warm up connections
            rate, latencies, failures = await hammer(url, clients, seconds)
            return rate, pct(latencies, 50), pct(latencies, 99), failures

        rows = [("direct", *await measure(instance))]
        rows.append(("through the agent's proxy", *await measure(snapshot.entry)))
        paired: dict[str, list[tuple[float, float, float, int]]] = {"on": [], "off": []}
        for _ in range(2):
            paired["on"].append(await measure(recording.address))
            paired["off"].append(await measure(silent.address))
        for label, key in (("proxy, recording on", "on"), ("proxy, recording off", "off")):
            rows.append((label, *max(paired[key])))
        await recording.close()
        await silent.close()
        await backend.close()
    direct, proxied, on, off = rows
    print(
        f"\n{clients} keep-alive clients ({generator}), {seconds:.0f} s each, "
        "one demo app instance upstream\n"
    )
    print("| path | requests/s | p50 ms | p99 ms | failed |")
    print("|---|---:|---:|---:|---:|")
    for label, rate, p50, p99, failures in rows:
        print(f"| {label} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {failures} |")
    ratio = proxied[1] / direct[1]
    added = proxied[2] - direct[2]
    print(
        f"\nproxy throughput {ratio:.0%} of direct (target ≥ 50%); "
        f"added p50 {added:.2f} ms (target ≤ 2 ms)"
    )
    cost = 1 - on[1] / off[1]
    print(
        f"recording costs {cost:.1%} of throughput (target ≤ 5%) and "
        f"{on[2] - off[2]:+.3f} ms of p50 (target ≤ 0.1 ms)"
    )


async def side_proxies(port: int) -> tuple[Proxy, Proxy]:
    """Two proxies in this process in front of the instance on ``port``: one records
    every request in a meter, the other records nothing."""
    proxies = []
    for meter in (Meter(), None):
        router = Router()
        router.update([Route("g1", 100, (Upstream("g1", "g1-1", port),))])
        proxy = Proxy("bench", router, meter)
        await proxy.start("127.0.0.1", 0)
        proxies.append(proxy)
    return proxies[0], proxies[1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    options = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(options.seconds, options.clients))
