"""Tainted generations: drift ``verify`` found is journaled (``verify`` records with the
findings), and a generation with drift stays tainted until it is retired — the fix for
drift is a new generation, not a repair. And generations due a rebuild by age."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from backends.core.journal import JournalRecord, Outcome
from backends.core.model import DriftReport, FleetSnapshot


def findings(report: DriftReport) -> list[str]:
    """``10.0.0.12: changed app.py``: one line per difference."""
    lines = [f"{d.host}: {d.change.value} {d.path}" for d in report.drift]
    return lines


def taints(records: Sequence[JournalRecord]) -> dict[str, tuple[str, ...]]:
    """Generation → every drift finding journaled for it (sorted, no repeats: the same
    drift reads the same whether one check or several found it)."""
    found: dict[str, list[str]] = {}
    for record in records:
        if record.action == "verify" and record.outcome is Outcome.OK:
            kept = found.setdefault(str(record.args.get("generation")), [])
            kept += [str(d) for d in record.args.get("drift") or () if str(d) not in kept]
    return {g: tuple(sorted(d)) for g, d in found.items() if d}


def annotate(
    snapshot: FleetSnapshot,
    drift: Mapping[str, Sequence[str]],
    max_age: timedelta | None,
    now: datetime,
) -> FleetSnapshot:
    """The snapshot with each generation's drift and whether it is due a rebuild."""
    generations = tuple(
        replace(
            g,
            drift=tuple(dict.fromkeys([*g.drift, *drift.get(g.id, ())])),
            rebuild_due=max_age is not None and now - g.launched_at > max_age,
        )
        for g in snapshot.generations
    )
    return replace(snapshot, generations=generations)
