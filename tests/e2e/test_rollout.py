"""Progressive rollouts on the local backend with real load: a version that fails a
third of real requests is aborted at the first step, a good one goes all the way, and
a rollout can be paused, aborted or picked up again from anywhere."""

from __future__ import annotations

import asyncio
import re
import signal

import pytest

from backends.core.journal import os_operator
from tests.support.load import keep_alive_load
from tests.support.local import molt, molt_json, molt_process, wait_for

pytestmark = pytest.mark.slow


async def under_load(state_dir, run):
    """Run ``run()`` (in a thread) while keep-alive clients hammer the fleet."""
    entry = molt_json(state_dir, "status", "web")["entry"]
    stop = asyncio.Event()
    load = asyncio.create_task(keep_alive_load(f"http://{entry}/", 4, stop, 0))
    try:
        result = await asyncio.to_thread(run)
    finally:
        stop.set()
    return result, await load


def launch(state_dir, version: str) -> str:
    done = molt(state_dir, "launch", "web", "--version", version, "--wait")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_a_version_failing_real_requests_is_aborted_at_the_first_step(state_dir):
    launch(state_dir, "v2-errors")
    done, tally = await under_load(
        state_dir,
        lambda: molt(state_dir, "rollout", "web", "g2", "--steps", "10,50,100", "--bake", "8"),
    )
    assert done.returncode == 1
    (said,) = done.stderr.strip().splitlines()
    reason = (
        r"molt: g2 5xx \d+% \(\d+/\d+\) vs [\d.]+% on g1, "
        r"shown over the (?:0.5-point margin|1.0% ceiling) at step 10%"
    )
    assert re.fullmatch(reason, said), said
    assert molt_json(state_dir, "status", "web")["generations"][0]["weight"] == 100
    assert all(f.startswith("500 demo v2-errors") for f in tally.failures)  # nothing else failed
    status = molt_json(state_dir, "status", "web")
    assert status["rollout"]["state"] == "aborted" and status["rollout"]["step"] == 1


async def test_a_good_version_goes_all_the_way(state_dir):
    launch(state_dir, "v2")
    done, tally = await under_load(
        state_dir,
        lambda: molt(state_dir, "rollout", "web", "g2", "--steps", "20,100", "--bake", "4"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("rollout of g2 done: every step passed\ng2 at 100%")
    assert done.stdout.splitlines().count("g2 at 100%") == 1  # the outcome, said once
    assert "step 1/2 · 20% · bake" in done.stdout and "… 5xx" in done.stdout  # pending first
    assert "step 1/2 · 20% · passed · ✓ health" in done.stdout and "✓ 5xx" in done.stdout
    assert tally.failed == 0
    weights = {g["id"]: g["weight"] for g in molt_json(state_dir, "status", "web")["generations"]}
    assert weights == {"g1": 0, "g2": 100}
    steps = [
        r for r in molt_json(state_dir, "history", "web")["records"] if r["args"].get("rollout")
    ]
    assert [r["args"].get("step") for r in steps if r["action"] == "shift"] == [1, 2]
    evidence = {c["measure"]: c for c in steps[-2]["args"]["evidence"]}  # behind step 2
    assert {m: c["state"] for m, c in evidence.items()} == {
        "health": "passed",
        "5xx": "passed",
        "slow": "passed",
    }
    assert evidence["5xx"]["canary"]["requests"] >= 100 and evidence["5xx"]["canary"]["errors"] == 0


async def test_killed_mid_bake_it_is_interrupted_and_anyone_resumes_it(state_dir):
    launch(state_dir, "v2")

    def kill_then_resume():
        driving = molt_process(
            state_dir, "rollout", "web", "g2", "--steps", "10,100", "--bake", "20"
        )
        wait_for(
            lambda: molt_json(state_dir, "status", "web")["generations"][1]["weight"] == 10,
            timeout=30,
        )
        driving.send_signal(signal.SIGKILL)
        driving.communicate(timeout=10)
        status = wait_for(
            lambda: (
                (s := molt_json(state_dir, "status", "web"))["rollout"]["state"] == "interrupted"
                and s
            ),
            timeout=15,
        )
        assert [g["weight"] for g in status["generations"]] == [90, 10]  # left where it was
        return molt(state_dir, "rollout", "web", "--resume", timeout=180)

    done, _ = await under_load(state_dir, kill_then_resume)
    assert done.returncode == 0, done.stderr
    weights = {g["id"]: g["weight"] for g in molt_json(state_dir, "status", "web")["generations"]}
    assert weights == {"g1": 0, "g2": 100}


async def test_pause_and_abort_from_a_second_process(state_dir):
    launch(state_dir, "v2")

    def control():
        driving = molt_process(
            state_dir, "rollout", "web", "g2", "--steps", "10,100", "--bake", "30"
        )
        wait_for(
            lambda: (molt_json(state_dir, "status", "web")["rollout"] or {}).get("step") == 1,
            timeout=30,
        )
        evidence = molt_json(state_dir, "status", "web")["rollout"]["evidence"]
        errors = next(e for e in evidence if e["measure"] == "5xx")
        assert set(errors) >= {"canary", "baseline", "statistic", "abort_at", "pass_at", "state"}
        assert errors["state"] == "pending" and errors["abort_at"] == errors["pass_at"] == 0.005
        shown = molt(state_dir, "status", "web").stdout  # who drives it, from anywhere
        line = next(x for x in shown.splitlines() if x.startswith("! rollout of g2 against g1"))
        assert ": running, step 1/2 (10%)" in line and f" — driven by {os_operator()} (" in line
        assert molt(state_dir, "rollout", "web", "--pause").returncode == 0
        assert molt_json(state_dir, "status", "web")["rollout"]["state"] == "paused"
        second = molt(state_dir, "rollout", "web", "g2")
        assert second.returncode == 1 and "already has a rollout of g2" in second.stderr
        assert molt(state_dir, "rollout", "web", "--abort").returncode == 0
        out, err = driving.communicate(timeout=60)
        return driving.returncode, err

    (code, err), _ = await under_load(state_dir, control)
    assert code == 1 and "was aborted by" in err
    assert err.count("aborted by") == 1, err  # not "aborted by root: aborted by root"
    weights = {g["id"]: g["weight"] for g in molt_json(state_dir, "status", "web")["generations"]}
    assert weights == {"g1": 100, "g2": 0}
