"""``molt logs`` on the local backend: what the app printed, and what it prints next."""

from __future__ import annotations

import pytest

from tests.support.local import molt, molt_json, molt_process, printed_while, request

pytestmark = pytest.mark.slow
FAULT = "error: GET /hello failed: the demo's injected fault"


def test_logs_show_what_the_app_printed_and_follow_new_lines(state_dir):
    done = molt(state_dir, "launch", "web", "--version", "v2-errors", "--count", "1", "--wait")
    assert done.returncode == 0, done.stderr
    shown = molt(state_dir, "logs", "web", "g2-1")
    assert shown.returncode == 0 and "demo v2-errors (g2-1) listening on 127.0.0.1:" in shown.stdout
    address = molt_json(state_dir, "status", "web")["generations"][1]["instances"][0]["address"]
    following = molt_process(state_dir, "logs", "web", "g2", "--lines", "0", "-f")
    # the follower starts within a second or so
    out = printed_while(following, lambda: request(f"http://{address}/hello"), FAULT)
    assert FAULT in out
    assert "listening on" not in out  # --lines 0: only what came after


def test_an_unknown_instance_is_named(state_dir):
    done = molt(state_dir, "logs", "web", "g9-1")
    assert done.returncode == 1
    assert "fleet web has no instance g9-1 (running: g1-1, g1-2)" in done.stderr
