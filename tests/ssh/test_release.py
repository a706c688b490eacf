"""A release on the ssh backend with the real ``molt``, through a real HAProxy, while
keep-alive clients hammer the fleet: not one request may fail."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from backends.local.demo import demo_artifact
from tests.ssh.load import Load

pytestmark = pytest.mark.slow


async def test_release_end_to_end_drops_no_request(make_fleet, tmp_path):
    fleet = make_fleet()
    name = fleet.name

    async def run(*args: str) -> str:
        return await asyncio.to_thread(fleet.ok, *args)

    assert (await run("launch", name, "--version", "v1", "--wait")).strip() == "g1"
    await run("promote", name, "g1")
    load = Load(fleet.proxy.frontend, clients=8).start()
    assert set(await load.more(200)) == {"v1"}
    v2 = shutil.copytree(demo_artifact(), tmp_path / "build-v2")
    launched = await run("launch", name, "--version", "v2", "--artifact", str(v2), "--wait")
    assert launched.strip() == "g2"

    during = load.total
    await run("shift", name, "g1=50", "g2=50")
    seen = await load.more(2000)
    assert seen["v1"] > 500 and seen["v2"] > 500, seen
    await run("promote", name, "g2")
    await load.more(1500)
    await run("retire", name, "g1")
    await load.more(1500)
    await load.stop()

    assert load.failed == 0, load.errors[:5]
    assert load.total - during >= 5000
    status = fleet.status()
    assert [(g["id"], g["version"], g["state"], g["weight"]) for g in status["generations"]] == [
        ("g2", "v2", "live", 100)
    ]
    assert not [d for d in fleet.rig.fleet_dirs(name) if (d / "g1").exists()]
    servers = fleet.proxy.server_names()
    assert len(servers) == 3 and all(s.startswith("g2-") for s in servers)
    assert [r["action"] for r in _history(fleet)] == [
        "launch", "promote", "launch", "shift", "promote", "retire"
    ]


def _history(fleet) -> list[dict]:
    import json

    return json.loads(fleet.ok("history", fleet.name, "--json"))["records"]
