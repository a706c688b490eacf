"""``molt report`` on a scripted history: Markdown with the shifts and who made them."""

from __future__ import annotations

from datetime import timedelta

from backends.core.chain import ChainReport
from backends.core.journal import JournalRecord, Outcome
from backends.core.report import parse_since, report
from tests.unit.factories import T0, fleet, generation


def act(minutes: int, operator: str, action: str, before: dict, after: dict, **args):
    return JournalRecord(
        fleet="web", action=action, operator=operator, args=args, weights_before=before,
        weights_after=after, outcome=Outcome.OK, at=T0 + timedelta(minutes=minutes),
    )


def test_a_report_tells_the_shifts_in_order_and_who_made_them():
    history = [
        act(1, "alice", "launch", {"g1": 100}, {"g1": 100}, version="v2", generation="g2"),
        act(5, "alice", "shift", {"g1": 100, "g2": 0}, {"g1": 90, "g2": 10},
            weights={"g1": 90, "g2": 10}),
        act(9, "bob", "rollback", {"g1": 90, "g2": 10}, {"g1": 100, "g2": 0}, generation="g1"),
    ]
    snapshot = fleet(generation(1, 100), generation(2, 0))
    text = report(snapshot, history, ChainReport(6, 0), timedelta(hours=2),
                  now=T0 + timedelta(minutes=30))
    assert text.startswith("# web: Rolled back to g1 by bob\n")
    assert "| 2026-11-26 14:05:00 | alice | shift g1=90 g2=10 (was 100/0) | 90% | 10% |" in text
    assert "| 2026-11-26 14:09:00 | bob | rollback g1 (was 90/10) | 100% | 0% |" in text
    assert "Actors: alice, bob." in text and "hash chain intact" in text
    assert "## Health incidents" in text and "## Error rates per generation (now)" in text


def test_since_reads_like_an_operator_writes_it():
    assert parse_since("2h") == timedelta(hours=2) and parse_since("30m") == timedelta(minutes=30)
