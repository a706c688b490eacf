"""Two operators act on one local fleet at the same instant: one applies, the other is
refused naming the first, and the fleet ends as the last journaled action says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.at_once import at_once, one_won
from tests.support.local import molt, molt_json

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"


def test_two_retires_at_once_one_applies_and_the_other_names_the_holder(state_dir):
    # an app that ignores SIGTERM: a retire takes the 5 s stop grace, so the two
    # operators really are at the fleet at the same time
    config = state_dir / "molt.toml"
    config.write_text(
        "[fleets.web]\n"
        f'artifact = "{APPS}"\n'
        'start = "{python} stubborn.py --port {port}"\n'
        "count = 1\ndrain_timeout = 0\n"
    )
    for version in ("v1", "v2", "v3"):
        launched = molt(state_dir, "launch", "web", "--version", version, "--wait", config=config)
        assert launched.returncode == 0, launched.stderr
    assert molt(state_dir, "promote", "web", "g1", config=config).returncode == 0
    done = at_once(
        [["retire", "web", "g2"], ["retire", "web", "g3"]], state_dir=state_dir, config=config
    )
    winner, said = one_won(done)
    assert f": retire g{2 + winner}, since" in said
    status = molt_json(state_dir, "status", "web", config=config)
    left = sorted(g["id"] for g in status["generations"])
    assert left == sorted({"g1", "g2", "g3"} - {f"g{2 + winner}"})
    records = molt_json(state_dir, "history", "web", config=config)["records"]
    last_ok = [r for r in records if r["outcome"] == "ok"][-1]
    assert (last_ok["action"], last_ok["args"]["generation"]) == ("retire", f"g{2 + winner}")
    assert {g["id"]: g["weight"] for g in status["generations"]} == {
        g: w for g, w in last_ok["weights_after"].items() if g in left
    }
    assert molt(state_dir, "history", "web", "--check", config=config).returncode == 0
