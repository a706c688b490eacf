"""Two operators on one AWS fleet at the same instant (moto over HTTP, the real CLI):
one applies, the other is refused naming the first, and the listener, ``status`` and
the journal agree afterwards. A line forged into the journal's stream is named by
``molt history --check``."""

from __future__ import annotations

import json
import time

import pytest

from tests.aws.support import molt_toml
from tests.aws.test_cli import listener_weights, ok
from tests.support.at_once import at_once, one_won
from tests.support.local import molt, molt_json

pytestmark = pytest.mark.slow


def two_generations(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    for version in ("v1", "v2"):
        ok(
            molt(
                tmp_path,
                "launch",
                "web",
                "--version",
                version,
                "--image",
                world.image,
                "--wait",
                config=config,
            )
        )
    ok(molt(tmp_path, "promote", "web", "g1", config=config))
    return config


def test_a_shift_and_a_promote_at_once_one_applies_and_they_never_mix(world, tmp_path):
    config = two_generations(world, tmp_path)
    done = at_once(
        [["shift", "web", "g1=50", "g2=50"], ["promote", "web", "g2"]],
        state_dir=tmp_path,
        config=config,
    )
    winner, said = one_won(done)
    assert "arn:aws:sts::123456789012:user/moto" in said
    expected = {"g1": 50, "g2": 50} if winner == 0 else {"g1": 0, "g2": 100}
    status = molt_json(tmp_path, "status", "web", config=config)
    assert {g["id"]: g["weight"] for g in status["generations"]} == expected
    assert listener_weights(world) == {f"molt-web-{g}": w for g, w in expected.items()}
    records = molt_json(tmp_path, "history", "web", config=config)["records"]
    assert [r for r in records if r["outcome"] == "ok"][-1]["weights_after"] == expected
    assert status["lock"] is None


def test_history_check_names_a_line_forged_into_the_stream(world, tmp_path):
    config = two_generations(world, tmp_path)
    assert "chain intact" in ok(molt(tmp_path, "history", "web", "--check", config=config))
    logs = world.client("logs")
    events = logs.get_log_events(
        logGroupName="/molt/web", logStreamName="journal", startFromHead=True
    )["events"]
    forged = json.loads(events[-1]["message"]) | {"operator": "arn:aws:iam::123456789012:user/eve"}
    logs.put_log_events(
        logGroupName="/molt/web",
        logStreamName="journal",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(forged)}],
    )
    broken = molt(tmp_path, "history", "web", "--check", config=config)
    assert broken.returncode == 1
    (said,) = broken.stderr.strip().splitlines()
    assert said.startswith("molt: the journal of web is broken: record 7 (id ")
