"""Progressive rollouts on the SSH rig with the real ``molt``, judged on HAProxy's own
counters under real load: a good version goes all the way, a version failing a third
of real requests is aborted at its first step with all traffic back on the baseline."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.support.load import keep_alive_load

pytestmark = pytest.mark.slow


def fleet_with_two_generations(make_fleet, rig, version: str):
    """g1 (v1) live at 100%, g2 (``version``) healthy at 0%; verdicts on 30 requests."""
    fleet = make_fleet(hosts=[rig.hosts[0]])  # one instance a generation: quick to launch
    with fleet.config.open("a") as config:
        config.write(f"[fleets.{fleet.name}.rollout]\nmin_requests = 30\n")
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
    assert "step 1/2 · 50% · bake" in done.stdout and "✓ 5xx 0%" in done.stdout
    assert tally.failed == 0 and tally.bodies["v2"] > 0
    status = fleet.status()
    assert {g["id"]: g["weight"] for g in status["generations"]} == {"g1": 0, "g2": 100}
    assert status["rollout"]["state"] == "done"
    records = json.loads(fleet.ok("history", fleet.name, "--json"))["records"]
    steps = [r for r in records if r["action"] == "shift" and r["args"].get("rollout")]
    assert [r["args"]["step"] for r in steps] == [1, 2]
    requests = next(c for c in steps[1]["args"]["checks"] if c["measure"] == "requests")
    assert requests["passed"] and int(requests["value"]) >= 30  # counted by HAProxy


async def test_a_version_failing_real_requests_is_aborted_at_its_first_step(make_fleet, rig):
    fleet = fleet_with_two_generations(make_fleet, rig, "v2-errors")
    done, tally = await rollout_under_load(fleet, "g2", "--steps", "50,100", "--bake", "4")
    assert done.returncode == 1
    (said,) = done.stderr.strip().splitlines()
    assert re.fullmatch(
        r"molt: g2 5xx \d+% > max [\d.]+% \(baseline g1 [\d.]+%\) at step 50%", said
    ), said
    rate = int(re.search(r"5xx (\d+)%", said).group(1))
    assert 15 <= rate <= 45  # the demo app's 30%, as HAProxy counted it
    assert all(f.startswith("500 demo v2-errors") for f in tally.failures)
    status = fleet.status()
    assert {g["id"]: g["weight"] for g in status["generations"]} == {"g1": 100, "g2": 0}
    serving = {s.split("-")[0] for s, w in haproxy_weights(fleet).items() if w}
    assert serving == {"g1"}  # HAProxy itself sends g2 nothing
    rollout = status["rollout"]
    assert (rollout["state"], rollout["step"], rollout["reason"]) == ("aborted", 1, said[6:])
