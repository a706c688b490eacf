"""What an operator sees when hosts, keys, files or HAProxy misbehave."""

from __future__ import annotations

import json
import time

import aiohttp
import asyncssh
import pytest

from tests.ssh.processes import DEPLOY_USER, DOWN_ADDRESS
from tests.ssh.rig import Rig
from tests.support.local import molt
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


async def _get_versions(url: str, requests: int) -> list[str]:
    async with aiohttp.ClientSession() as session:
        versions = []
        for _ in range(requests):
            async with session.get(url) as response:
                assert response.status == 200, await response.text()
                versions.append((await response.text()).split()[1])
        return versions


def _until(fleet, check, timeout: float = 30.0) -> dict:
    return wait_for(fleet.status, timeout, 0.2, holds=check, what="the fleet's status")


async def test_a_host_down_during_launch_leaves_a_degraded_generation_that_serves(make_fleet):
    fleet = make_fleet()
    rig: Rig = fleet.rig
    down = f"{DEPLOY_USER}@{DOWN_ADDRESS}:2222"
    fleet.write(rig.settings([rig.hosts[0].spec, rig.hosts[1].spec, down], rig.hosts[0],
                             fleet.proxy))
    assert fleet.ok("launch", fleet.name, "--version", "v1").strip() == "g1"
    status = _until(fleet, lambda s: s["generations"][0]["state"] == "degraded")
    broken = [i for i in status["generations"][0]["instances"] if i["health"] != "healthy"]
    assert [(i["host"], i["health"]) for i in broken] == [(DOWN_ADDRESS, "unhealthy")]
    assert "connect" in broken[0]["last_check"].lower() or "refused" in broken[0]["last_check"]
    fleet.ok("promote", fleet.name, "g1")
    assert set(await _get_versions(fleet.proxy.frontend, 20)) == {"v1"}


async def test_a_hung_host_is_reported_within_connect_timeout(make_fleet):
    fleet = make_fleet(connect_timeout=2.0)
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    hung = fleet.rig.hosts[2]
    hung.hang()
    started = time.monotonic()
    status = fleet.status()
    assert time.monotonic() - started < 2.0 + 3.0  # connect_timeout + the CLI's own start
    instance = next(i for i in status["generations"][0]["instances"] if i["host"] == hung.address)
    assert "no SSH answer within 2 s" in instance["last_check"]
    started = time.monotonic()
    assert fleet.ok("launch", fleet.name, "--version", "v2").strip() == "g2"
    assert time.monotonic() - started < 2.0 + 5.0
    g2 = _until(fleet, lambda s: s["generations"][1]["state"] == "degraded")["generations"][1]
    assert [i["host"] for i in g2["instances"] if i["health"] == "unhealthy"] == [hung.address]


async def test_a_changed_or_unknown_host_key_is_refused_showing_its_fingerprint(make_fleet):
    fleet = make_fleet()
    rig = fleet.rig
    imposter = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    lines = [rig.hosts[0].known_hosts_line, f"[{rig.hosts[1].address}]:{rig.hosts[1].port} "
             f"{imposter}", rig.hosts[2].known_hosts_line]
    (fleet.state_dir / "known_hosts").write_text("\n".join(lines) + "\n")
    fleet.write(rig.settings(list(fleet.settings.hosts), rig.hosts[0], fleet.proxy,
                             known_hosts=fleet.state_dir / "known_hosts"))
    fleet.ok("launch", fleet.name, "--version", "v1")
    real = asyncssh.import_public_key(rig.hosts[1].public_key).get_fingerprint()
    instances = fleet.status()["generations"][0]["instances"]
    refused = next(i for i in instances if i["host"] == rig.hosts[1].address)
    assert refused["health"] == "unhealthy"
    assert "host key CHANGED, refused" in refused["last_check"] and real in refused["last_check"]

    (fleet.state_dir / "known_hosts").write_text(rig.hosts[1].known_hosts_line + "\n")
    done = fleet.molt("status", fleet.name)
    lb_key = asyncssh.import_public_key(rig.hosts[0].public_key).get_fingerprint()
    assert done.returncode == 1
    assert "host key unknown, refused" in done.stderr and lb_key in done.stderr


async def test_haproxy_reloaded_mid_deploy_gets_its_servers_and_weights_back_on_apply(
    make_fleet,
):
    fleet = make_fleet()
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    fleet.ok("launch", fleet.name, "--version", "v2", "--wait")
    fleet.ok("shift", fleet.name, "g1=50", "g2=50")
    fleet.proxy.reload()
    assert fleet.proxy.server_names() == []
    status = fleet.status()
    assert {g["id"]: g["weight"] for g in status["generations"]} == {"g1": 50, "g2": 50}
    assert "6 servers missing" in status["differences"][0]
    assert fleet.proxy.server_names() == []  # a look puts nothing back
    assert "HAProxy had lost 6 servers: added them back" in fleet.ok("apply", fleet.name)
    assert len(fleet.proxy.server_names()) == 6
    _until(fleet, lambda s: all(i["health"] == "healthy"
                                for g in s["generations"] for i in g["instances"]))
    versions = await _get_versions(fleet.proxy.frontend, 60)
    assert versions.count("v1") >= 15 and versions.count("v2") >= 15
    fleet.ok("promote", fleet.name, "g2")
    assert set(await _get_versions(fleet.proxy.frontend, 20)) == {"v2"}


async def test_verify_names_the_host_and_file_edited_by_hand(make_fleet):
    fleet = make_fleet()
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    assert "g1: clean (3 hosts checked)" in fleet.ok("verify", fleet.name)
    host = fleet.rig.hosts[1]
    tree = host.srv / "molt" / fleet.name / "g1" / "tree"
    tree.chmod(0o755)
    (tree / "app.py").chmod(0o644)
    with (tree / "app.py").open("a") as handle:
        handle.write("# hotfix, sorry\n")
    (tree / "notes.txt").write_text("added by hand\n")
    (tree / "config.py").symlink_to("/etc/hostname")  # a link: invisible to a checksum
    done = fleet.molt("verify", fleet.name, "g1")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"g1: {host.address}: changed app.py",
        f"g1: {host.address}: added config.py",
        f"g1: {host.address}: added notes.txt",
    ]
    drift = fleet.generation("g1")["drift"]
    assert fleet.generation("g1")["tainted"] and f"{host.address}: added config.py" in drift


async def test_another_molt_elsewhere_sees_the_same_fleet(make_fleet, tmp_path):
    fleet = make_fleet()
    fleet.ok("launch", fleet.name, "--version", "v1", "--note", "first", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    elsewhere = tmp_path / "molt.toml"  # another machine: its own config and state dir
    elsewhere.write_text(fleet.config.read_text())
    done = molt(tmp_path, "status", fleet.name, "--json", config=elsewhere)
    assert done.returncode == 0, done.stderr
    there = [(g["id"], g["version"], g["weight"], g["note"]) for g in
             json.loads(done.stdout)["generations"]]
    assert there == [("g1", "v1", 100, "first")]
    history = molt(tmp_path, "history", fleet.name, config=elsewhere).stdout
    assert "launch v1" in history and "promote g1" in history


async def test_haproxy_errors_name_the_command_that_failed(make_fleet):
    fleet = make_fleet()
    rig = fleet.rig
    wrong = fleet.settings.lb.__class__(host=rig.hosts[0].spec, socket=fleet.proxy.socket,
                                        backend="nosuch")
    fleet.write(rig.settings(list(fleet.settings.hosts), rig.hosts[0], fleet.proxy, lb=wrong))
    done = fleet.molt("status", fleet.name)
    assert done.returncode == 1
    assert "`show stat nosuch 4 -1`" in done.stderr


async def test_an_lb_host_without_stream_forwarding_is_driven_through_socat(make_fleet, rig):
    from tests.ssh.processes import TEST_ADDRESSES
    from tests.ssh.rig import ensure_deploy_user

    strict = rig.start_host(TEST_ADDRESSES[3], ensure_deploy_user(), "DisableForwarding yes\n")
    rig.extra_processes.append(strict.process)
    rig.write_known_hosts(rig.known_hosts, [*rig.hosts, strict])
    fleet = make_fleet(hosts=rig.hosts[:2])
    fleet.write(rig.settings(list(fleet.settings.hosts), strict, fleet.proxy))
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    assert set(await _get_versions(fleet.proxy.frontend, 10)) == {"v1"}
    assert len(fleet.proxy.server_names()) == 2
