"""Molt killed (SIGKILL) at each step of a launch and of a retire on the SSH rig: the
cut-short action shows as interrupted, running the same command again finishes it, and
nothing is left behind — no process, tree or HAProxy server that ``status`` cannot see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.local import kill_when, molt_process, wait_for

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"


def state_file(fleet) -> Path:
    return fleet.rig.hosts[0].srv / "molt" / fleet.name / "state.json"


def lifecycle(fleet, generation: str) -> str | None:
    try:
        state = json.loads(state_file(fleet).read_text())
    except (OSError, ValueError):
        return None
    return next((g["lifecycle"] for g in state["generations"] if g["id"] == generation), None)


def generation_dirs(fleet, generation: str, part: str) -> list[Path]:
    return [
        d / generation / part
        for d in fleet.rig.fleet_dirs(fleet.name)
        if (d / generation / part).exists()
    ]


def pid_files(fleet, generation: str) -> list[Path]:
    return [
        p for d in fleet.rig.fleet_dirs(fleet.name) for p in (d / generation / "run").glob("*.pid")
    ]


def running_generations(fleet) -> set[str]:
    """Generations with a process alive on the rig's hosts, found by what every instance
    process carries (its fleet and generation in its environment, its host's address on
    its command line) — not by pid file: a process whose pid file is gone counts too."""
    addresses = [h.address.encode() for h in fleet.rig.hosts]
    wanted = f"MOLT_FLEET={fleet.name}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if wanted in environ and any(a in cmdline for a in addresses):
            generation = next(
                (e.partition(b"=")[2] for e in environ if e.startswith(b"MOLT_GENERATION=")),
                b"?",
            )
            found.add(generation.decode())
    return found


def servers(fleet, generation: str) -> list[str]:
    return [s for s in fleet.proxy.server_names() if s.startswith(f"{generation}-")]


LAUNCH_STEPS = {
    "recorded in the desired state": lambda f: lifecycle(f, "g2") == "launching",
    "a tree uploaded": lambda f: bool(generation_dirs(f, "g2", "manifest.json")),
    "its processes started": lambda f: bool(pid_files(f, "g2")),
}
RETIRE_STEPS = {
    "marked draining": lambda f: lifecycle(f, "g1") == "draining",
    "its servers gone from HAProxy": lambda f: (
        lifecycle(f, "g1") == "draining" and not servers(f, "g1")
    ),
}


def nothing_orphaned(fleet) -> None:
    """Every tree, process and HAProxy server of the fleet belongs to what status shows."""
    status = fleet.status()
    ids = {g["id"] for g in status["generations"]}
    instances = {i["id"] for g in status["generations"] for i in g["instances"]}
    on_hosts = {p.name for d in fleet.rig.fleet_dirs(fleet.name) for p in d.glob("g*")}
    assert on_hosts <= ids, (on_hosts, ids)
    assert set(fleet.proxy.server_names()) == instances
    running = {p.stem for g in ids for p in pid_files(fleet, g)}
    assert running <= instances
    assert running_generations(fleet) <= ids, "a process outlived its generation"


def slow_fleet(make_fleet):
    return make_fleet(
        count=1,
        artifact=APPS,
        start="python3 slow_start.py --port {port} --host {address} --after 2",
    )


@pytest.mark.parametrize("step", list(LAUNCH_STEPS))
def test_a_launch_killed_mid_way_is_interrupted_and_finished_by_running_it_again(make_fleet, step):
    fleet = slow_fleet(make_fleet)
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    launching = molt_process(
        fleet.state_dir, "launch", fleet.name, "--version", "v2", config=fleet.config
    )
    kill_when(launching, lambda: LAUNCH_STEPS[step](fleet), step)
    status = wait_for(lambda: (s := fleet.status())["lock"] is None and s, timeout=15)
    assert [(c["action"], c["target"]) for c in status["interrupted"]] == [("launch", "v2")]
    assert status["generations"][-1]["id"] == "g2"
    assert fleet.ok("launch", fleet.name, "--version", "v2", "--wait").strip() == "g2"
    after = fleet.status()
    assert [(g["id"], g["state"]) for g in after["generations"]] == [
        ("g1", "healthy"),
        ("g2", "healthy"),
    ]
    assert after["interrupted"] == []
    nothing_orphaned(fleet)


@pytest.mark.parametrize("step", list(RETIRE_STEPS))
def test_a_retire_killed_mid_way_is_interrupted_and_finished_by_running_it_again(make_fleet, step):
    fleet = make_fleet(
        count=1,
        artifact=APPS,
        drain_timeout=0.0,
        start="python3 stubborn.py --port {port} --host {address}",
    )
    for version in ("v1", "v2"):
        fleet.ok("launch", fleet.name, "--version", version, "--wait")
    fleet.ok("promote", fleet.name, "g2")
    retiring = molt_process(fleet.state_dir, "retire", fleet.name, "g1", config=fleet.config)
    kill_when(retiring, lambda: RETIRE_STEPS[step](fleet), step)
    status = wait_for(lambda: (s := fleet.status())["lock"] is None and s, timeout=15)
    assert [(c["action"], c["target"]) for c in status["interrupted"]] == [("retire", "g1")]
    assert [g["state"] for g in status["generations"]] == ["draining", "live"]
    assert fleet.ok("retire", fleet.name, "g1").strip() == "g1 retired"
    after = fleet.status()
    assert [g["id"] for g in after["generations"]] == ["g2"] and after["interrupted"] == []
    nothing_orphaned(fleet)
    assert not generation_dirs(fleet, "g1", "tree")
