"""The local backend end to end: the real molt binary, real processes, real HTTP."""

from __future__ import annotations

import collections
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.support.local import molt, molt_json, wait_for

pytestmark = pytest.mark.slow


def get(entry: str, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://{entry}{path}", timeout=5) as answer:
        return answer.read().decode()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_release_from_demo_to_v2_and_retire_v1(state_dir):
    status = molt_json(state_dir, "status", "web")
    (g1,) = status["generations"]
    assert (g1["id"], g1["version"], g1["weight"]) == ("g1", "v1", 100)
    assert g1["instances"] and {i["health"] for i in g1["instances"]} == {"healthy"}
    g1_pids = [i["pid"] for i in g1["instances"]]

    launched = molt(state_dir, "launch", "web", "--version", "v2", "--count", "3", "--wait")
    assert launched.returncode == 0, launched.stderr
    assert launched.stdout.strip() == "g2"
    assert molt(state_dir, "shift", "web", "g1=50", "g2=50").returncode == 0

    versions = collections.Counter(get(status["entry"]).split()[1] for _ in range(400))
    assert set(versions) == {"v1", "v2"}
    assert 140 <= versions["v1"] <= 260, versions  # each 35–65% of 400

    assert molt(state_dir, "promote", "web", "g2").returncode == 0
    retired = molt(state_dir, "retire", "web", "g1")
    assert retired.returncode == 0, retired.stderr
    assert not any(pid_alive(pid) for pid in g1_pids)
    assert not (state_dir / "fleets" / "web" / "g1").exists()
    after = molt_json(state_dir, "status", "web")
    assert [(g["id"], g["weight"]) for g in after["generations"]] == [("g2", 100)]
    assert {get(status["entry"]).split()[1] for _ in range(20)} == {"v2"}

    history = molt_json(state_dir, "history", "web")["records"]
    steps = [(r["action"], r["outcome"]) for r in history]
    assert steps == [
        ("launch", "ok"),
        ("promote", "ok"),  # the demo's first generation
        ("launch", "ok"),
        ("shift", "ok"),
        ("promote", "ok"),
        ("retire", "ok"),
    ]
    assert {r["operator"] for r in history} == {os.environ.get("USER") or _whoami()}
    assert history[3]["weights_before"] == {"g1": 100, "g2": 0}
    assert history[3]["weights_after"] == {"g1": 50, "g2": 50}


def _whoami() -> str:
    import getpass

    return getpass.getuser()


def test_bad_generation_never_becomes_healthy_and_gets_no_weight(state_dir):
    molt_json(state_dir, "status", "web")
    launched = molt(state_dir, "launch", "web", "--version", "v2-bad", "--wait", "--timeout", "30")
    assert launched.returncode == 1
    assert launched.stderr.count("\n") == 1 and "g2 (v2-bad) failed" in launched.stderr
    shifted = molt(state_dir, "shift", "web", "g1=90", "g2=10")
    assert shifted.returncode == 1
    assert shifted.stderr.strip() == (
        "molt: g2 has no healthy instance (failed); it cannot receive traffic "
        "(use --force to override)"
    )
    status = molt_json(state_dir, "status", "web")
    assert [(g["id"], g["weight"], g["state"]) for g in status["generations"]] == [
        ("g1", 100, "live"),
        ("g2", 0, "failed"),
    ]


def test_retiring_a_live_generation_is_refused_and_changes_nothing(state_dir):
    before = molt_json(state_dir, "status", "web")
    retired = molt(state_dir, "retire", "web", "g1")
    assert retired.returncode == 1
    assert retired.stderr.startswith("molt: g1 still carries 100% of traffic")
    assert retired.stderr.count("\n") == 1
    after = molt_json(state_dir, "status", "web")
    assert [(g["id"], g["weight"]) for g in after["generations"]] == [("g1", 100)]
    assert [i["pid"] for i in after["generations"][0]["instances"]] == [
        i["pid"] for i in before["generations"][0]["instances"]
    ]
    assert molt_json(state_dir, "history", "web")["records"][-1]["outcome"] == "refused"


def test_agent_killed_hard_is_replaced_and_readopts_its_instances(state_dir):
    molt(state_dir, "launch", "web", "--version", "v2", "--wait")
    assert molt(state_dir, "shift", "web", "g1=70", "g2=30").returncode == 0
    before = molt_json(state_dir, "status", "web")
    agent = molt_json(state_dir, "agent", "status")["pid"]

    os.kill(agent, signal.SIGKILL)
    wait_for(lambda: not pid_alive(agent))
    after = molt_json(state_dir, "status", "web")

    new_agent = molt_json(state_dir, "agent", "status")
    assert new_agent["pid"] != agent
    assert after["entry"] == before["entry"]
    assert _pids_and_weights(after) == _pids_and_weights(before)
    assert sum(f["instances"] for f in new_agent["fleets"]) == 4  # no duplicates
    seen = {get(after["entry"]).split()[1] for _ in range(60)}
    assert seen == {"v1", "v2"}


def _pids_and_weights(status: dict) -> list:
    return [
        (g["id"], g["weight"], [i["pid"] for i in g["instances"]]) for g in status["generations"]
    ]


def test_quitting_molt_never_stops_the_fleet(state_dir):
    status = molt_json(state_dir, "status", "web")
    assert get(status["entry"]).startswith("demo v1 g1")  # served after the CLI exited
