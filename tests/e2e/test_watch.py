"""``molt watch``: what CI jobs ask of a rollout tool — wait until a generation is
healthy or carries all the traffic, or give up after a timeout."""

from __future__ import annotations

import json

import pytest

from tests.support.local import molt, molt_process

pytestmark = pytest.mark.slow


def test_watch_until_healthy_then_until_promoted(state_dir):
    assert molt(state_dir, "status", "web").returncode == 0  # the demo fleet, g1 live
    waiting = molt_process(state_dir, "watch", "web", "--until", "healthy:g2", "--timeout", "60")
    assert molt(state_dir, "launch", "web", "--version", "v2").returncode == 0
    out, err = waiting.communicate(timeout=90)
    assert waiting.returncode == 0, err
    assert "g2   g2-1 pending → healthy" in out or "g2-1 pending → healthy" in out
    promoted = molt_process(
        state_dir, "watch", "web", "--until", "weight:g2=100", "--timeout", "60", "--json"
    )
    assert molt(state_dir, "promote", "web", "g2").returncode == 0
    out, err = promoted.communicate(timeout=90)
    assert promoted.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]  # every line one JSON object
    assert {line["kind"] for line in lines} <= {"action", "weights", "traffic", "health", "state"}
    shifts = [line["after"] for line in lines if line["kind"] == "weights"]
    assert not shifts or shifts[-1] == {"g1": 0, "g2": 100}


def test_watch_gives_up_after_its_timeout_naming_what_it_waited_for(state_dir):
    done = molt(state_dir, "watch", "web", "--until", "weight:g1=50", "--timeout", "3")
    assert done.returncode == 1
    (said,) = done.stderr.strip().splitlines()
    expected = "molt: --until weight:g1=50 did not happen within 3 s: g1 at 100 (waiting for 50)"
    assert said == expected


def test_a_malformed_condition_is_a_usage_error(state_dir):
    done = molt(state_dir, "watch", "web", "--until", "fast:g1")
    assert done.returncode == 2 and "healthy:GEN or weight:GEN=PCT" in done.stderr
