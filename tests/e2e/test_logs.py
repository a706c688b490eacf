"""``molt logs`` on the local backend: what the app printed, and what it prints next."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request

import pytest

from tests.support.local import molt, molt_json, molt_process, printed_by, wait_for

pytestmark = pytest.mark.slow
FAULT = "error: GET /hello failed: the demo's injected fault"


def test_logs_show_what_the_app_printed_and_follow_new_lines(state_dir):
    done = molt(state_dir, "launch", "demo", "--version", "v2-errors", "--count", "1", "--wait")
    assert done.returncode == 0, done.stderr
    shown = molt(state_dir, "logs", "demo", "g2-1")
    assert shown.returncode == 0 and "demo v2-errors (g2-1) listening on 127.0.0.1:" in shown.stdout
    address = molt_json(state_dir, "status", "demo")["generations"][1]["instances"][0]["address"]
    following = molt_process(state_dir, "logs", "demo", "g2", "--lines", "0", "-f")
    said, reader = printed_by(following)
    try:

        def failure_shown() -> bool:
            """the follower to show a failed request"""
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"http://{address}/hello", timeout=2).read()
            return any(FAULT in line for line in said)

        wait_for(failure_shown, timeout=20, every=0.05)  # the follower starts within a second or so
    finally:
        following.terminate()
        following.wait(10)
        reader.join(10)
    out = "".join(said)
    assert FAULT in out
    assert "listening on" not in out  # --lines 0: only what came after


def test_an_unknown_instance_is_named(state_dir):
    done = molt(state_dir, "logs", "demo", "g9-1")
    assert done.returncode == 1
    assert "fleet demo has no instance g9-1 (running: g1-1, g1-2)" in done.stderr
