"""Adopting what runs on the SSH rig (issue 21): a server put in the HAProxy backend by
hand, before Molt, is the external generation ``g0``: shifted from through HAProxy's
runtime API, retired by putting it in maintenance — its process never touched."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

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
            "g0", "external", True, 100
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
