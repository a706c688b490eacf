"""Progressive rollouts on the SSH rig with the real ``molt``, judged on HAProxy's own
counters under real load, of an app that fails 0.5% of requests in every version: a
good version goes all the way, a version failing 30% more is aborted at its first step
with all traffic back on the baseline."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.support.load import keep_alive_load

pytestmark = pytest.mark.slow


APPS = Path(__file__).resolve().parents[1] / "support" / "apps"


def fleet_with_two_generations(make_fleet, rig, version: str):
    """g1 (v1) live at 100%, g2 (``version``) healthy at 0%, both the noisy app; a plan
    that guards against 2 more points of 5xx, on at least 30 requests a step."""
    fleet = make_fleet(  # one instance a generation: quick to launch
        hosts=[rig.hosts[0]], artifact=APPS, start="python3 noisy.py --port {port} --host {address}"
    )
    with fleet.config.open("a") as config:
        config.write(
            f"[fleets.{fleet.name}.rollout]\nmin_requests = 30\nmax_error_increase = 0.02\n"
        )
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    fleet.ok("launch", fleet.name, "--version", version, "--wait")
    return fleet


async def rollout_under_load(fleet, *args: str):
    """``molt rollout`` (in a thread) while keep-alive clients hammer the HAProxy."""
    stop = asyncio.Event()
    load = asyncio.create_task(keep_alive_load(fleet.proxy.frontend, 4, stop, 0))
    try:
        done = await asyncio.to_thread(fleet.molt, "rollout", fleet.name, *args, timeout=90)
    finally:
        stop.set()
    return done, await load


def haproxy_weights(fleet) -> dict[str, int]:
    """Server → weight, as HAProxy itself says (``show stat``)."""
    header, *rows = fleet.proxy.command(f"show stat {fleet.name} 4 -1").splitlines()
    column = header.lstrip("# ").split(",").index("weight")
    return {r.split(",")[1]: int(r.split(",")[column]) for r in rows if r.strip()}


async def test_a_good_version_goes_all_the_way(make_fleet, rig):
    fleet = fleet_with_two_generations(make_fleet, rig, "v2")
    done, tally = await rollout_under_load(fleet, "g2", "--steps", "50,100", "--bake", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("g2 at 100%")
    assert "step 1/2 · 50% · passed · ✓ health" in done.stdout and "✓ 5xx" in done.stdout
    assert "– slow latency not judged: the traffic source" in done.stdout  # averages only
    assert tally.bodies["noisy v2\n"] > 0  # g2 served real requests
    status = fleet.status()
    assert {g["id"]: g["weight"] for g in status["generations"]} == {"g1": 0, "g2": 100}
    assert status["rollout"]["state"] == "done"
    records = json.loads(fleet.ok("history", fleet.name, "--json"))["records"]
    steps = [r for r in records if r["action"] == "shift" and r["args"].get("rollout")]
    assert [r["args"]["step"] for r in steps] == [1, 2]
    errors = next(c for c in steps[1]["args"]["evidence"] if c["measure"] == "5xx")
    assert errors["state"] == "passed" and errors["canary"]["requests"] >= 30  # HAProxy's


async def test_a_version_failing_real_requests_is_aborted_at_its_first_step(make_fleet, rig):
    fleet = fleet_with_two_generations(make_fleet, rig, "v2-errors")
    done, tally = await rollout_under_load(fleet, "g2", "--steps", "50,100", "--bake", "4")
    assert done.returncode == 1
    (said,) = done.stderr.strip().splitlines()
    shown = (
        r"molt: g2 5xx (\d+)% \(\d+/\d+\) vs [\d.]+% on g1, "
        r"shown over the (?:2-point margin|1.0% ceiling) at step 50%"
    )
    assert re.fullmatch(shown, said), said
    rate = int(re.fullmatch(shown, said).group(1))
    assert 15 <= rate <= 50  # the app's 30.5%, as HAProxy counted it
    assert all(f.startswith("500 noisy") for f in tally.failures)
    status = fleet.status()
    assert {g["id"]: g["weight"] for g in status["generations"]} == {"g1": 100, "g2": 0}
    serving = {s.split("-")[0] for s, w in haproxy_weights(fleet).items() if w}
    assert serving == {"g1"}  # HAProxy itself sends g2 nothing
    rollout = status["rollout"]
    assert (rollout["state"], rollout["step"], rollout["reason"]) == ("aborted", 1, said[6:])


async def test_a_rollout_baking_longer_than_the_lease_ttl_goes_all_the_way(make_fleet, rig):
    """The driver acts on the lease as last renewed, not as first taken: with a TTL of
    3 s and a bake of 5 s, the second step is not refused as 'lease lost'."""
    fleet = fleet_with_two_generations(make_fleet, rig, "v2")
    text = fleet.config.read_text()
    fleet.config.write_text(text.replace('backend = "ssh"\n', 'backend = "ssh"\nlease_ttl = 3\n'))
    done, _ = await rollout_under_load(fleet, "g2", "--steps", "50,100", "--bake", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("g2 at 100%")
    assert fleet.status()["rollout"]["state"] == "done"
