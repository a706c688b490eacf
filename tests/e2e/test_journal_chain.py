"""The local journal proves itself: a record edited by hand in the agent's SQLite store
is named by ``molt history --check``; ``molt agent stop`` is journaled too."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from tests.support.local import molt, molt_json

pytestmark = pytest.mark.slow


def test_history_check_names_a_record_edited_in_the_store(state_dir):
    assert molt(state_dir, "shift", "demo", "g1=100").returncode == 0  # bootstraps, then shifts
    intact = molt(state_dir, "history", "demo", "--check")
    assert intact.returncode == 0, intact.stderr
    assert "chain intact" in intact.stdout
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        seq, line = db.execute(
            "SELECT seq, record FROM journal ORDER BY seq LIMIT 1 OFFSET 2"
        ).fetchone()
        assert '"action":"promote"' in line
        db.execute(
            "UPDATE journal SET record = ? WHERE seq = ?",
            (line.replace('"promote"', '"shift"'), seq),
        )
        db.commit()
    broken = molt(state_dir, "history", "demo", "--check")
    assert broken.returncode == 1
    (said,) = broken.stderr.strip().splitlines()
    assert said.startswith("molt: the journal of demo is broken: record 3 (id ")
    assert "was edited" in said


def test_agent_stop_is_journaled(state_dir):
    assert molt(state_dir, "status").returncode == 0
    assert molt(state_dir, "agent", "stop", "--yes").returncode == 0
    records = molt_json(state_dir, "history", "demo")["records"]  # starts a new agent
    assert [(r["action"], r["outcome"]) for r in records][-1] == ("agent stop", "ok")
    assert molt(state_dir, "history", "demo", "--check").returncode == 0
