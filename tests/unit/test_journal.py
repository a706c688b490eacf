"""Journal records: folded from append-only writes, summarised for people."""

from __future__ import annotations

from dataclasses import replace

from backends.core.journal import JournalRecord, Outcome, fold


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


def test_a_later_line_cannot_rewrite_an_action_that_ended():
    done = JournalRecord(fleet="web", action="promote", operator="amy", args={"generation": "g2"})
    forged = replace(done.finished(Outcome.OK), operator="mallory", args={"generation": "g9"})
    records = fold([done, done.finished(Outcome.OK), forged])
    assert [(r.operator, r.args["generation"], r.outcome) for r in records] == [
        ("amy", "g2", Outcome.OK)
    ]


def test_the_chain_names_the_first_record_edited_removed_or_forged():
    from backends.core import chain

    writes = [
        JournalRecord(fleet="web", action=a, operator="amy", args={"generation": "g1"})
        for a in ("launch", "promote", "retire")
    ]
    lines: list[str] = []
    for write in writes:
        lines.append(chain.seal(write.to_json(), chain.hash_of(lines[-1]) if lines else ""))
    head = chain.head_of(lines)
    assert chain.check(lines, head).intact and chain.check(lines, head).records == 3
    edited = [lines[0], lines[1].replace('"amy"', '"bob"'), lines[2]]
    assert chain.check(edited, head).broken.startswith("record 2 (id ")
    assert "was edited" in chain.check(edited, head).broken
    removed = [lines[0], lines[2]]
    assert "does not follow the record before it" in chain.check(removed, head).broken
    resealed = chain.seal(writes[1].to_json() | {"operator": "bob"}, chain.hash_of(lines[0]))
    assert "record 3" in chain.check([lines[0], resealed, lines[2]], head).broken
