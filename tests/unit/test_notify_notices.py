"""What is worth telling the team, and what each webhook is sent: pure functions of
the journal, the lock and a snapshot, each notice keyed the same in every Molt."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from backends.core.journal import JournalRecord, Outcome
from backends.core.locking import Lease
from backends.core.notices import (
    from_interrupted,
    from_lock,
    from_records,
    from_snapshot,
    payload,
)
from backends.core.traffic import Traffic
from tests.unit.factories import T0, fleet, generation


def record(action: str, outcome: Outcome = Outcome.OK, **args: object) -> JournalRecord:
    return JournalRecord(
        fleet="web", action=action, operator="alice", args=args, outcome=outcome, at=T0
    )


def test_rollouts_that_ended_are_told_keyed_by_their_record():
    aborted = record("rollout", event="abort", generation="g2", judge=True, reason="5xx 31%")
    done = record("rollout", event="done", generation="g3")
    paused = record("rollout", event="pause", generation="g3")
    notices = from_records("web", [aborted, paused, done])
    assert [(n.event, n.key) for n in notices] == [
        ("rollout-aborted", f"rollout-aborted:{aborted.id}"),
        ("rollout-done", f"rollout-done:{done.id}"),
    ]
    assert notices[0].text == "fleet web: rollout of g2 aborted (by the rollout judge) — 5xx 31%"
    assert notices[1].text == "fleet web: rollout of g3 done: it carries all the traffic (by alice)"


def test_inconclusive_by_the_judge():
    ended = record("rollout", event="inconclusive", generation="g2", judge=True, reason="quiet")
    (notice,) = from_records("web", [ended])
    assert notice.event == "rollout-inconclusive"
    assert "ended inconclusive" in notice.text


def test_a_record_not_proven_by_the_chain_or_not_done_tells_nothing():
    forged = replace(record("rollout", event="abort", generation="g2"), unverified=True)
    started = record("rollout", Outcome.STARTED, event="abort", generation="g2")
    assert from_records("web", [forged, started]) == []


def test_a_taint_is_told_once_per_generation_whoever_journaled_it():
    first = record("verify", generation="g1", drift=["local: changed app.py"])
    again = record("verify", generation="g1", drift=["local: changed app.py", "local: new x"])
    (notice,) = from_records("web", [first, again])
    assert (notice.event, notice.key) == ("taint", "taint:g1")
    assert notice.text == "fleet web: g1 is tainted — local: changed app.py"


def test_an_interrupted_action_keyed_by_its_record():
    cut = record("retire", Outcome.STARTED, generation="g1")
    (notice,) = from_interrupted("web", [cut])
    assert notice.key == f"interrupted:{cut.id}" and notice.at is None
    assert "retire g1 by alice was interrupted" in notice.text


def test_the_lock_is_news_once_held_longer_than_the_limit():
    lease = replace(Lease.new("bob", "retire g1", "rec123"), since=T0)
    assert from_lock("web", lease, 30, T0 + timedelta(minutes=29)) == []
    (notice,) = from_lock("web", lease, 30, T0 + timedelta(minutes=31))
    assert notice.key == "lock-held:rec123"
    assert "held longer than 30 minutes by bob" in notice.text
    assert lease.token not in str(notice)  # never the token


def test_a_generation_worse_than_its_baseline_keyed_by_the_pair():
    def traffic(error_rate: float) -> Traffic:
        return Traffic(window_s=30, requests=900, rps=30, error_rate=error_rate, as_of=T0)

    g1 = replace(generation(1, weight=90), traffic=traffic(0.001))
    g2 = replace(generation(2, weight=10), traffic=traffic(0.31))
    (notice,) = from_snapshot(fleet(g1, g2))
    assert (notice.event, notice.key) == ("worse-than-baseline", "worse-than-baseline:g2:g1")
    assert "g2 does worse than its baseline g1 — 5xx" in notice.text
    assert from_snapshot(fleet(g1, replace(g2, traffic=traffic(0.001)))) == []


def test_payloads_slack_and_json():
    (notice,) = from_records("web", [record("rollout", event="done", generation="g3")])
    assert payload(notice, "slack", T0) == {"text": notice.text}
    body = payload(notice, "json", T0 + timedelta(seconds=5))
    assert body["event"] == "rollout-done" and body["fleet"] == "web"
    assert body["key"] == notice.key and body["text"] == notice.text
    assert body["at"] == "2026-11-26T14:00:00.000Z"  # when it happened, not when sent
    assert body["details"]["generation"] == "g3"


def test_slack_shows_outside_text_literally():
    drift = ["local: changed <!channel> & app.py"]
    (notice,) = from_records("web", [record("verify", generation="g1", drift=drift)])
    text = payload(notice, "slack", T0)["text"]
    assert text == "fleet web: g1 is tainted — local: changed &lt;!channel&gt; &amp; app.py"
    assert payload(notice, "json", T0)["text"] == notice.text  # JSON carries it as it is
