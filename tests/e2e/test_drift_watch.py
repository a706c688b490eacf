"""A hand edit in a local generation's frozen tree taints it within seconds: the agent
watches the trees (file-system notifications), and ``molt status`` — which only reads —
shows the taint the agent journaled, naming the generation and the file."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.support.local import molt, molt_json

pytestmark = pytest.mark.slow

TAINT = "! g1 is tainted (retire it; launch a new generation): local: changed app.py"


def test_a_hand_edit_shows_in_status_within_seconds(state_dir):
    first = molt_json(state_dir, "status", "web")  # the demo fleet, launched and clean
    assert not first["generations"][0]["tainted"]
    app = state_dir / "fleets" / "web" / "g1" / "tree" / "app.py"
    mode = app.stat().st_mode
    app.chmod(0o644)
    with app.open("a") as edited:  # a hot fix typed in during an outage
        edited.write("\nDEBUG = True\n")
    app.chmod(mode)
    edited_at, edited_wall = time.monotonic(), datetime.now(UTC)
    shown = ""
    # each look is a whole `molt status` process: on a busy machine the looks themselves
    # are slow, so when the agent noticed is read from its journal record (below)
    while TAINT not in shown and time.monotonic() - edited_at < 30:
        shown = molt(state_dir, "status", "web").stdout
    assert TAINT in shown, f"no taint {time.monotonic() - edited_at:.1f} s after the edit:\n{shown}"
    records = molt_json(state_dir, "history", "web")["records"]
    noticed = [r for r in records if r["action"] == "verify"]
    assert [r["args"]["drift"] for r in noticed] == [["local: changed app.py"]]  # once
    took = (datetime.fromisoformat(noticed[0]["at"]) - edited_wall).total_seconds()
    assert took < 5, f"the agent journaled the taint {took:.1f} s after the edit"
