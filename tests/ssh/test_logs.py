"""``molt logs`` on the SSH rig: the instance's output, kept in its directory on its
host, read (and followed) over the kept connection; stamped line by line and capped
per instance (``log_size``) by rotation on the host, without losing a line."""

from __future__ import annotations

import re

import pytest

from tests.ssh.processes import START
from tests.support.local import molt_process, printed_while, request, wait_for

pytestmark = pytest.mark.slow
FAULT = "error: GET /x failed: the demo's injected fault"


def test_logs_show_and_follow_what_the_instance_printed(make_fleet):
    fleet = make_fleet(count=1, hosts=None)
    fleet.ok("launch", fleet.name, "--version", "v1-errors", "--count", "1", "--wait")
    instance = fleet.generation("g1")["instances"][0]
    shown = fleet.ok("logs", fleet.name, instance["id"])
    assert f"demo v1-errors ({instance['id']}) listening on {instance['address']}" in shown
    following = molt_process(fleet.state_dir, "logs", fleet.name, "g1", "--lines", "0", "-f",
                             config=fleet.config)
    # the follower starts within a second or so
    out = printed_while(following, lambda: request(f"http://{instance['address']}/x"), FAULT)
    assert FAULT in out


STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def test_a_flooding_instance_is_capped_by_rotation_with_no_line_lost(make_fleet, rig):
    # 200,000 numbered lines (~5 MB once stamped) as fast as it can, then the demo app
    fleet = make_fleet(count=1, hosts=[rig.hosts[0]], start="seq 200000; " + START,
                       log_size=256 * 1024)
    fleet.ok("launch", fleet.name, "--version", "v1", "--count", "1", "--wait")
    (instance,) = fleet.generation("g1")["instances"]
    logs = rig.hosts[0].srv / "molt" / fleet.name / "g1" / "logs"
    shown = wait_for(
        lambda: "listening on" in (out := fleet.ok("logs", fleet.name, instance["id"],
                                                   "--lines", "20000")) and out,
        timeout=30,
    )
    kept = sum(f.stat().st_size for f in logs.iterdir())
    assert kept <= 256 * 1024, sorted((f.name, f.stat().st_size) for f in logs.iterdir())
    lines = shown.splitlines()
    assert all(STAMP.match(line) for line in lines), lines[:3]
    numbers = [int(w) for line in lines if (w := line.split(" ", 1)[1]).isdigit()]
    assert len(numbers) > 5000  # the cap keeps what fits, from both files
    assert numbers == list(range(numbers[0], 200001))  # none lost at a rotation
    assert f"listening on {instance['address']}" in lines[-1]
