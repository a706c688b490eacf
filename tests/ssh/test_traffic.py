"""What real requests see on the SSH rig, from HAProxy's counters under real load: a
version answering 500 to 30% of requests shows it, a healthy one does not, and the
rates are what the load generator sent. HAProxy gives averages, not percentiles."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.ssh.driver import SshBackend
from tests.support.load import keep_alive_load

pytestmark = pytest.mark.slow


async def test_haproxys_counters_give_error_and_request_rates(make_fleet):
    fleet = make_fleet(count=1)
    for version in ("v1", "v2-errors"):
        fleet.ok("launch", fleet.name, "--version", version, "--wait")
    fleet.ok("shift", fleet.name, "g1=50", "g2=50")
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir)
    await backend.snapshot()
    stop = asyncio.Event()
    started = time.monotonic()
    load = asyncio.create_task(keep_alive_load(fleet.proxy.frontend, 4, stop, 0))
    for _ in range(8):
        await asyncio.sleep(1)
        snapshot = await backend.snapshot()
    stop.set()
    tally = await load
    elapsed = time.monotonic() - started
    await backend.close()
    good, bad = snapshot.generations
    sent = {"v1": tally.bodies["v1"],
            "v2-errors": tally.bodies["v2-errors"] + sum("v2-errors" in f for f in tally.failures)}
    assert 0.20 <= bad.traffic.error_rate <= 0.40, bad.traffic
    assert good.traffic.error_rate < 0.01, good.traffic
    for generation, version in ((good, "v1"), (bad, "v2-errors")):
        assert generation.traffic.rps == pytest.approx(sent[version] / elapsed, rel=0.2)
        assert generation.traffic.p50_ms is None and generation.traffic.p99_ms is None
        assert generation.traffic.avg_ms is not None and generation.traffic.max_ms is not None
    assert sum(i.traffic.requests for i in bad.instances) == bad.traffic.requests


async def test_connections_haproxy_could_not_make_count_as_errors(make_fleet):
    """Every connection to the instance fails (its process is gone, HAProxy's checks
    are off so it keeps sending): the meter says 100% errors, not 0%."""
    fleet = make_fleet(count=1)
    fleet.ok("launch", fleet.name, "--version", "v1", "--count", "1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    (instance,) = fleet.generation("g1")["instances"]
    fleet.proxy.command(f"disable health {fleet.name}/{instance['id']}")
    assert fleet.rig.kill_instances(fleet.name) == 1
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir)
    try:
        await backend.snapshot()
        stop = asyncio.Event()
        load = asyncio.create_task(keep_alive_load(fleet.proxy.frontend, 8, stop, 0))
        # HAProxy retries a refused connection after a pause: a request fails in ~3 s
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            snapshot = await backend.snapshot()
            if snapshot.generations[0].traffic.totals.errors >= 8:
                break
        stop.set()
        tally = await load
    finally:
        await backend.close()
    assert tally.ok == 0 and tally.failed > 0
    traffic = snapshot.generations[0].traffic
    assert traffic.totals.errors >= 8, traffic
    assert traffic.requests > 0 and traffic.error_rate == 1.0, traffic
