"""``molt logs`` on the SSH rig: the instance's output, kept in its directory on its
host, read (and followed) over the kept connection."""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request

import pytest

from tests.support.local import molt_process

pytestmark = pytest.mark.slow


def test_logs_show_and_follow_what_the_instance_printed(make_fleet):
    fleet = make_fleet(count=1, hosts=None)
    fleet.ok("launch", fleet.name, "--version", "v1-errors", "--count", "1", "--wait")
    instance = fleet.generation("g1")["instances"][0]
    shown = fleet.ok("logs", fleet.name, instance["id"])
    assert f"demo v1-errors ({instance['id']}) listening on {instance['address']}" in shown
    following = molt_process(fleet.state_dir, "logs", fleet.name, "g1", "--lines", "0", "-f",
                             config=fleet.config)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"http://{instance['address']}/x", timeout=2).read()
            time.sleep(0.05)
    finally:
        following.terminate()
        out, _ = following.communicate(timeout=10)
    assert "error: GET /x failed: the demo's injected fault" in out
