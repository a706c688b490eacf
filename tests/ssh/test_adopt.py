"""Adopting what runs on the SSH rig (issue 21): a server put in the HAProxy backend by
hand, before Molt, is the external generation ``g0``: shifted from through HAProxy's
runtime API, rolled out from, retired by putting it in maintenance — its process never
touched."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.load import keep_alive_load

pytestmark = pytest.mark.slow


class Legacy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"legacy\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # HAProxy's checks hang up without reading: nothing to report


@contextlib.contextmanager
def what_runs(fleet) -> Iterator[Quiet]:
    """The team's service before Molt: one server in the backend, health-checked."""
    server = Quiet(("127.0.0.1", 0), Legacy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"{fleet.name}/legacy"
    port = server.server_address[1]
    for line in (
        f"add server {name} 127.0.0.1:{port} weight 1 check inter 200 rise 1 fall 2",
        f"enable health {name}",
        f"set server {name} state ready",
    ):
        fleet.proxy.command(line)
    deadline = time.monotonic() + 10
    while "UP" not in server_row(fleet, "legacy")["status"] and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield server
    finally:
        server.shutdown()


def server_row(fleet, name: str) -> dict[str, str]:
    lines = fleet.proxy.command(f"show stat {fleet.name} 4 -1").splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, r.split(","), strict=False)) for r in lines[1:] if r.strip()]
    return next(r for r in rows if r["svname"] == name)


def test_a_server_added_by_hand_is_g0_and_can_be_shifted_from(make_fleet):
    fleet = make_fleet(count=1)
    with what_runs(fleet) as legacy:
        (g0,) = fleet.status()["generations"]
        assert (g0["id"], g0["version"], g0["external"], g0["weight"]) == (
            "g0",
            "external",
            True,
            100,
        )
        assert [i["health"] for i in g0["instances"]] == ["healthy"]
        assert fleet.ok("launch", fleet.name, "--version", "v1", "--wait").strip() == "g1"
        fleet.ok("shift", fleet.name, "g0=90", "g1=10")
        weights = {g["id"]: g["weight"] for g in fleet.status()["generations"]}
        assert weights == {"g0": 90, "g1": 10}
        g1_servers = [n for n in fleet.proxy.server_names() if n.startswith("g1-")]
        g1_weight = sum(int(server_row(fleet, n)["weight"]) for n in g1_servers)
        assert int(server_row(fleet, "legacy")["weight"]) / g1_weight == pytest.approx(9, rel=0.1)
        assert "differs" not in fleet.ok("status", fleet.name)
        refused = fleet.molt("retire", fleet.name, "g0")
        assert refused.returncode != 0 and "g0 still carries 90%" in refused.stderr
        fleet.ok("promote", fleet.name, "g1")
        said = fleet.ok("retire", fleet.name, "g0")
        assert "removed from the load balancer" in said
        assert [g["id"] for g in fleet.status()["generations"]] == ["g1"]
        row = server_row(fleet, "legacy")
        assert row["status"].startswith("MAINT") and row["weight"] == "0"
        assert legacy.socket.fileno() != -1  # its process still serves: never touched


async def test_a_rollout_from_g0_to_a_molt_generation_completes(make_fleet, rig):
    """From what ran before Molt to Molt's first generation, judged on HAProxy's counters
    of both under real load, step by step to 100% — g0 ends at 0%, still serving."""
    fleet = make_fleet(hosts=[rig.hosts[0]], count=1)
    with fleet.config.open("a") as config:
        config.write(
            f"[fleets.{fleet.name}.rollout]\nmin_requests = 30\nmax_error_increase = 0.02\n"
        )
    with what_runs(fleet) as legacy:
        fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
        stop = asyncio.Event()
        load = asyncio.create_task(keep_alive_load(fleet.proxy.frontend, 4, stop, 0))
        try:
            args = ("rollout", fleet.name, "g1", "--steps", "50,100", "--bake", "3")
            done = await asyncio.to_thread(fleet.molt, *args, timeout=90)
        finally:
            stop.set()
        tally = await load
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().endswith("g1 at 100%")
        status = fleet.status()
        assert {g["id"]: g["weight"] for g in status["generations"]} == {"g0": 0, "g1": 100}
        assert (status["rollout"]["state"], status["rollout"]["baseline"]) == ("done", "g0")
        assert tally.bodies["legacy\n"] > 0  # g0 served real requests before handing over
        records = json.loads(fleet.ok("history", fleet.name, "--json"))["records"]
        steps = [r for r in records if r["action"] == "shift" and r["args"].get("rollout")]
        assert [r["args"]["step"] for r in steps] == [1, 2]
        errors = next(c for c in steps[1]["args"]["evidence"] if c["measure"] == "5xx")
        assert errors["baseline"]["requests"] >= 30  # step 1 judged on g0's own counters
        assert int(server_row(fleet, "legacy")["weight"]) == 0
        assert legacy.socket.fileno() != -1  # its process never touched
