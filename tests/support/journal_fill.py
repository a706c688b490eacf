"""A long journal, fast: sealed, chained writes of finished shifts stored straight into
a local state dir's SQLite store (as the agent stores them), for cost tests and
benchmarks. Call it while no agent has read the fleet's journal yet."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from backends.core import chain
from backends.core.journal import JournalRecord, Outcome
from backends.core.model import iso, utcnow
from backends.local.store import Store


def prefill(state_dir: Path, fleet: str, records: int) -> int:
    """Append ``records`` finished shifts (two writes each) to ``fleet``'s journal,
    dated in the past; returns the number of writes stored."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store(state_dir / "state.db")
    try:
        last = store.last_journal_line(fleet)
        start = utcnow() - timedelta(seconds=records + 60)
        template = JournalRecord(fleet=fleet, action="shift", operator="filler").to_json()
        with store.transaction():
            for number in range(records):
                weights = {"g1": 100 - number % 100, "g2": number % 100}
                write = {
                    **template,
                    "id": f"fill{number:08d}",
                    "at": iso(start + timedelta(seconds=number), precise=True),
                    "args": {"weights": weights},
                    "weights_before": {"g1": 100, "g2": 0},
                    "weights_after": weights,
                }
                for outcome in (Outcome.STARTED, Outcome.OK):
                    last = chain.seal({**write, "outcome": outcome.value}, chain.hash_of(last))
                    store.append_journal(fleet, last)
    finally:
        store.close()
    return 2 * records
