"""The local backend's truth: a SQLite file in the state dir, written by the agent.

Whatever the agent knows that cannot be re-read from the processes themselves lives
here, so a ``kill -9`` of the agent loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS fleets (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    entry TEXT NOT NULL DEFAULT '',
    next_generation INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS generations (
    fleet TEXT NOT NULL,
    id TEXT NOT NULL,
    number INTEGER NOT NULL,
    version TEXT NOT NULL,
    count INTEGER NOT NULL,
    note TEXT NOT NULL,
    launched_at TEXT NOT NULL,
    launched_by TEXT NOT NULL,
    artifact TEXT NOT NULL,
    digest TEXT NOT NULL,
    weight INTEGER NOT NULL DEFAULT 0,
    lifecycle TEXT NOT NULL DEFAULT 'active',
    PRIMARY KEY (fleet, id)
);
CREATE TABLE IF NOT EXISTS instances (
    fleet TEXT NOT NULL,
    generation TEXT NOT NULL,
    id TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    started INTEGER NOT NULL,
    health TEXT NOT NULL,
    healthy_since TEXT,
    PRIMARY KEY (fleet, id)
);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    fleet TEXT NOT NULL,
    record TEXT NOT NULL
);
"""


@dataclass(slots=True)
class GenerationRow:
    fleet: str
    id: str
    number: int
    version: str
    count: int
    note: str
    launched_at: str
    launched_by: str
    artifact: str
    digest: str
    weight: int
    lifecycle: str


@dataclass(slots=True)
class InstanceRow:
    fleet: str
    generation: str
    id: str
    port: int
    pid: int
    started: int
    health: str
    healthy_since: str | None


class Store:
    """Small, synchronous, one connection: only the agent writes here."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # fleets
    def save_fleet(self, name: str, settings: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO fleets (name, settings) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET settings = excluded.settings",
            (name, json.dumps(settings, sort_keys=True)),
        )

    def fleets(self) -> list[tuple[str, dict[str, Any], str]]:
        rows = self._db.execute("SELECT name, settings, entry FROM fleets ORDER BY name")
        return [(name, json.loads(settings), entry) for name, settings, entry in rows]

    def set_entry(self, fleet: str, entry: str) -> None:
        self._db.execute("UPDATE fleets SET entry = ? WHERE name = ?", (entry, fleet))

    def take_generation_number(self, fleet: str) -> int:
        """The next generation number of ``fleet``; numbers are never reused."""
        with self.transaction():
            (number,) = self._db.execute(
                "SELECT next_generation FROM fleets WHERE name = ?", (fleet,)
            ).fetchone()
            self._db.execute(
                "UPDATE fleets SET next_generation = ? WHERE name = ?", (number + 1, fleet)
            )
        return int(number)

    # generations
    def add_generation(self, row: GenerationRow) -> None:
        self._db.execute(
            "INSERT INTO generations VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.fleet,
                row.id,
                row.number,
                row.version,
                row.count,
                row.note,
                row.launched_at,
                row.launched_by,
                row.artifact,
                row.digest,
                row.weight,
                row.lifecycle,
            ),
        )

    def generations(self, fleet: str, *, with_retired: bool = False) -> list[GenerationRow]:
        query = "SELECT * FROM generations WHERE fleet = ?"
        if not with_retired:
            query += " AND lifecycle != 'retired'"
        rows = self._db.execute(query + " ORDER BY number", (fleet,))
        return [GenerationRow(*row) for row in rows]

    def set_weights(self, fleet: str, weights: Mapping[str, int]) -> None:
        with self.transaction():
            for generation, weight in weights.items():
                self._db.execute(
                    "UPDATE generations SET weight = ? WHERE fleet = ? AND id = ?",
                    (weight, fleet, generation),
                )

    def set_digest(self, fleet: str, generation: str, digest: str) -> None:
        self._db.execute(
            "UPDATE generations SET digest = ? WHERE fleet = ? AND id = ?",
            (digest, fleet, generation),
        )

    def fleet_settings(self, fleet: str) -> tuple[dict[str, Any], str] | None:
        """(settings, entry) the agent runs ``fleet`` with, or None if it does not."""
        row = self._db.execute(
            "SELECT settings, entry FROM fleets WHERE name = ?", (fleet,)
        ).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def set_lifecycle(self, fleet: str, generation: str, lifecycle: str) -> None:
        self._db.execute(
            "UPDATE generations SET lifecycle = ? WHERE fleet = ? AND id = ?",
            (lifecycle, fleet, generation),
        )

    # instances
    def save_instance(self, row: InstanceRow) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?,?,?,?,?,?,?,?)",
            (
                row.fleet,
                row.generation,
                row.id,
                row.port,
                row.pid,
                row.started,
                row.health,
                row.healthy_since,
            ),
        )

    def instances(self, fleet: str, generation: str) -> list[InstanceRow]:
        rows = self._db.execute(
            "SELECT * FROM instances WHERE fleet = ? AND generation = ? ORDER BY rowid",
            (fleet, generation),
        )
        return [InstanceRow(*row) for row in rows]

    def set_health(self, fleet: str, instance: str, health: str, since: str | None) -> None:
        self._db.execute(
            "UPDATE instances SET health = ?, healthy_since = ? WHERE fleet = ? AND id = ?",
            (health, since, fleet, instance),
        )

    def delete_instances(self, fleet: str, generation: str) -> None:
        self._db.execute(
            "DELETE FROM instances WHERE fleet = ? AND generation = ?", (fleet, generation)
        )

    # journal
    def append_journal(self, fleet: str, line: str) -> int:
        """Store one write; returns its sequence number (they only grow)."""
        insert = "INSERT INTO journal (fleet, record) VALUES (?, ?)"
        cursor = self._db.execute(insert, (fleet, line))
        return int(cursor.lastrowid or 0)

    def journal_after(self, fleet: str, seq: int | None) -> Iterator[tuple[int, str]]:
        """The fleet's writes after sequence number ``seq`` (None: all of them, even a row
        inserted by hand at 0 or below), oldest first, one at a time."""
        if seq is None:
            query = "SELECT seq, record FROM journal WHERE fleet = ? ORDER BY seq"
            rows = self._db.execute(query, (fleet,))
        else:
            query = "SELECT seq, record FROM journal WHERE fleet = ? AND seq > ? ORDER BY seq"
            rows = self._db.execute(query, (fleet, seq))
        for number, record in rows:
            yield int(number), str(record)

    def last_journal_line(self, fleet: str) -> str:
        row = self._db.execute(
            "SELECT record FROM journal WHERE fleet = ? ORDER BY seq DESC LIMIT 1", (fleet,)
        ).fetchone()
        return str(row[0]) if row else ""

    def journal_count(self, fleet: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM journal WHERE fleet = ?", (fleet,)).fetchone()
        return int(row[0])

    def journal(self, fleet: str) -> list[str]:
        """The fleet's journal lines, as stored, oldest first."""
        rows = self._db.execute("SELECT record FROM journal WHERE fleet = ? ORDER BY seq", (fleet,))
        return [str(record) for (record,) in rows]
