"""The local journal proves itself: a record edited by hand in the agent's SQLite store
is named by ``molt history --check``; ``molt agent stop`` is journaled too."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backends.core import chain
from backends.core.journal import JournalRecord, Outcome
from tests.support.forgery import rechain
from tests.support.local import molt, molt_json, wait_for

pytestmark = pytest.mark.slow


def test_history_check_names_a_record_edited_in_the_store(state_dir):
    assert molt(state_dir, "shift", "web", "g1=100").returncode == 0  # bootstraps, then shifts
    intact = molt(state_dir, "history", "web", "--check")
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
    broken = molt(state_dir, "history", "web", "--check")
    assert broken.returncode == 1
    (said,) = broken.stderr.strip().splitlines()
    assert said.startswith("molt: the journal of web is broken: record 3 (id ")
    assert "was edited" in said


def test_agent_stop_is_journaled(state_dir):
    assert molt(state_dir, "status", "web").returncode == 0
    assert molt(state_dir, "agent", "stop", "--yes").returncode == 0
    records = molt_json(state_dir, "history", "web")["records"]  # starts a new agent
    assert [(r["action"], r["outcome"]) for r in records][-1] == ("agent stop", "ok")
    assert molt(state_dir, "history", "web", "--check").returncode == 0


# an attacker with the store (sqlite3 on state.db) but not the agent ---------------------


def _rows(state_dir) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        return list(db.execute("SELECT seq, record FROM journal ORDER BY seq"))


def _rewrite(state_dir, lines: list[str]) -> None:
    """Replace the whole journal, as someone with the store but not the agent can."""
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        db.execute("DELETE FROM journal")
        db.executemany(
            "INSERT INTO journal (fleet, record) VALUES ('web', ?)", [(x,) for x in lines]
        )
        db.commit()


def _fails(state_dir, *words: str) -> None:
    """``history --check`` fails naming ``words``: piped, on a terminal and in JSON."""
    piped = molt(state_dir, "history", "web", "--check")
    assert piped.returncode == 1, piped.stdout
    assert piped.stderr.startswith("molt: the journal of web is broken: ")
    assert all(w in piped.stderr for w in words), piped.stderr
    code, shown = on_terminal(state_dir, "history", "web", "--check")
    assert code == 1 and all(w in shown for w in words), shown
    as_json = molt(state_dir, "history", "web", "--check", "--json")
    assert as_json.returncode == 1
    found = json.loads(as_json.stdout)
    assert found["intact"] is False and found["anchored"] == "the local agent"
    assert all(any(w in p for p in found["problems"]) for w in words), found


def test_check_fails_on_a_truncated_journal(state_dir):
    assert molt(state_dir, "shift", "web", "g1=100").returncode == 0
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        db.execute("DELETE FROM journal WHERE seq > (SELECT MAX(seq) - 2 FROM journal)")
        db.commit()
    _fails(state_dir, "truncated", "the local agent anchored 6")


def test_check_fails_on_a_journal_rechained_with_molts_own_hashing(state_dir):
    assert molt(state_dir, "shift", "web", "g1=100").returncode == 0
    lines = [line for _, line in _rows(state_dir)]
    _rewrite(state_dir, rechain(lines, lambda data: data | {"operator": "mallory"}))
    assert chain.check([line for _, line in _rows(state_dir)]).records == len(lines)
    _fails(state_dir, "re-chained")


def test_check_fails_when_a_drift_record_is_deleted(state_dir):
    assert molt(state_dir, "verify", "web").returncode == 0
    app = state_dir / "fleets" / "web" / "g1" / "tree" / "app.py"
    app.chmod(0o644)
    assert molt(state_dir, "verify", "web").returncode == 1  # journaled: g1 is tainted
    # the agent's file watch journals the same drift on its own: once it has, no drift
    # record can land after the deletion below
    wait_for(lambda: any('"file watch"' in line for _, line in _rows(state_dir)), timeout=30)
    lines = [line for _, line in _rows(state_dir) if '"action":"verify"' not in line]
    assert len(lines) < len(_rows(state_dir))
    _rewrite(state_dir, rechain(lines))
    # the running agent read the drift before it was deleted and still shows it; a
    # reader without the agent would not: the chain's anchor is what must catch it
    _fails(state_dir, "truncated")


def test_an_unhashed_row_before_the_first_fails_and_shows_unverified(state_dir):
    assert molt(state_dir, "status", "web").returncode == 0
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    forged = JournalRecord(
        "web", "retire", "eve", {"generation": "g1"}, outcome=Outcome.OK, at=an_hour_ago
    )
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        insert = "INSERT INTO journal (seq, fleet, record) VALUES (0, 'web', ?)"
        db.execute(insert, (forged.to_line(),))
        db.commit()
    _fails(state_dir, "1 records carry no hash (record 1)")
    shown = molt(state_dir, "history", "web").stdout.splitlines()
    assert "eve" in shown[0] and "[UNVERIFIED] retire g1" in shown[0]
    assert not any("[UNVERIFIED]" in line for line in shown[1:])
    report = molt(state_dir, "report", "web", "--since", "2h").stdout
    assert "**eve** [UNVERIFIED] retire g1" in report
    assert molt_json(state_dir, "history", "web")["records"][0]["unverified"] is True


def on_terminal(state_dir, *args: str) -> tuple[int, str]:
    """Run molt with stdout and stderr on a pseudo-terminal: (exit code, all it said)."""
    main, side = pty.openpty()
    argv = [str(Path(sys.executable).with_name("molt")), *args]
    env = {**os.environ, "MOLT_STATE_DIR": str(state_dir), "COLUMNS": "200"}
    process = subprocess.Popen(argv, stdout=side, stderr=side, env=env, cwd=state_dir)
    os.close(side)
    said = b""
    with contextlib.suppress(OSError):  # EIO once the child closed its side
        while chunk := os.read(main, 4096):
            said += chunk
    os.close(main)
    return process.wait(timeout=60), said.decode(errors="replace")


def test_an_intact_journal_checks_intact_with_and_without_read_only(state_dir):
    assert molt(state_dir, "shift", "web", "g1=100").returncode == 0
    for flags in ((), ("--read-only",)):
        intact = molt(state_dir, *flags, "history", "web", "--check")
        assert intact.returncode == 0, (flags, intact.stderr)
        assert "chain intact" in intact.stdout
        as_json = molt_json(state_dir, *flags, "history", "web", "--check")
        assert as_json["intact"] is True and as_json["anchored"] == "the local agent"
