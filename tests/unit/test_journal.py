"""Journal records: folded from append-only writes, summarised for people."""

from __future__ import annotations

from dataclasses import replace

from backends.journal import JournalRecord, Outcome, fold


def test_outcome_write_supersedes_the_start_write():
    started = JournalRecord(fleet="web", action="retire", operator="bob", args={"generation": "g1"})
    other = JournalRecord(
        fleet="web", action="shift", operator="amy", args={"weights": {"g2": 100}}
    )
    records = fold([started, other, started.finished(Outcome.FAILED, "drain timed out")])
    assert [(r.action, r.outcome, r.reason) for r in records] == [
        ("retire", Outcome.FAILED, "drain timed out"),
        ("shift", Outcome.STARTED, ""),
    ]


def test_a_record_survives_its_json_line():
    record = JournalRecord(
        fleet="web",
        action="shift",
        operator="amy",
        args={"weights": {"g1": 70, "g2": 30}},
        weights_before={"g1": 100, "g2": 0},
        forced=True,
    )
    import json

    again = JournalRecord.from_json(json.loads(record.to_line()))
    assert again == replace(
        record, at=record.at.replace(microsecond=record.at.microsecond // 1000 * 1000)
    )


def test_summary_reads_like_the_event_stream():
    shift = JournalRecord(
        fleet="web",
        action="shift",
        operator="amy",
        args={"weights": {"g1": 70, "g2": 30}},
        weights_before={"g1": 100, "g2": 0},
    )
    assert shift.summary() == "shift g1=70 g2=30 (was 100/0)"
    refused = JournalRecord(
        fleet="web", action="retire", operator="amy", args={"generation": "g1"}
    ).finished(Outcome.REFUSED, "g1 is live")
    assert refused.summary() == "retire g1 — refused: g1 is live"
    launch = JournalRecord(
        fleet="web",
        action="launch",
        operator="amy",
        args={"version": "v2", "count": 3, "generation": "g2", "note": "hotfix"},
    )
    assert launch.summary() == "launch v2 ×3 → g2 “hotfix”"
