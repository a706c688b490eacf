"""What changed across the estate: several fleets' journals merged by time, in the
words ``molt changes`` prints, bounded."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.config.fleet_config import FleetConfig, MoltConfig
from backends.core.changes import NOT_FINISHED, change, merge
from backends.core.errors import ConfigError
from backends.core.journal import JournalRecord, Outcome
from tests.unit.factories import T0
from tui.cli.changes import chosen, line


def record(
    fleet: str, action: str, minute: float, outcome: Outcome = Outcome.OK, **args: Any
) -> JournalRecord:
    return JournalRecord(
        fleet=fleet,
        action=action,
        operator="alice",
        args=args,
        outcome=outcome,
        at=T0 + timedelta(minutes=minute),
    )


def test_fleets_merge_in_time_order_with_who_what_and_why():
    web = [
        record("web", "launch", 1, version="v2", count=3, generation="g2", note="new cache"),
        record("web", "shift", 5, weights={"g1": 90, "g2": 10}),
    ]
    api = [
        record("api", "promote", 3, generation="g4"),
        record("api", "retire", 7, generation="g3"),
    ]
    merged = merge({"web": web, "api": api}).changes
    assert [(c.fleet, c.what) for c in merged] == [
        ("web", "launch v2 ×3 → g2"),
        ("api", "promote g4"),
        ("web", "shift g1=90 g2=10"),
        ("api", "retire g3"),
    ]
    assert merged[0].why == "new cache" and merged[0].generation == "g2"
    assert merged[2].to_json() == {
        "at": "2026-11-26T14:05:00.000Z",
        "fleet": "web",
        "who": "alice",
        "what": "shift g1=90 g2=10",
        "why": "",
        "generation": None,
        "record": web[1].id,
        "outcome": "ok",
        "action": "shift",
    }


def test_since_and_the_fleet_list_filter():
    journals = {
        name: [record(name, "promote", minute, generation="g1") for minute in (1, 10, 20)]
        for name in ("web", "api", "jobs")
    }
    found = merge(journals, since=T0 + timedelta(minutes=10), fleets={"web", "jobs"}).changes
    assert [(c.fleet, c.at.minute) for c in found] == [
        ("jobs", 10),
        ("web", 10),
        ("jobs", 20),
        ("web", 20),
    ]


def test_taints_interrupted_refused_and_the_judge_say_why():
    drift = [f"10.0.0.{i}: changed app.py" for i in range(5)]
    records = [
        record("web", "verify", 1, generation="g2", drift=drift),
        record("web", "verify", 2, generation="g2"),  # found nothing: not a change
        record("web", "shift", 3, Outcome.INTERRUPTED, weights={"g1": 50, "g2": 50}),
        record("web", "retire", 4, Outcome.STARTED, generation="g1"),
        record("web", "promote", 5, Outcome.REFUSED, generation="g2"),
        record(
            "web",
            "rollout",
            6,
            event="abort",
            generation="g2",
            judge=True,
            started_by="bob",
            reason="5xx 4% vs 0.1%",
        ),
    ]
    records[4] = records[4].finished(Outcome.REFUSED, "g2 is not healthy")
    found = merge({"web": records}).changes
    assert [c.what for c in found] == [
        "taint g2",
        "shift g1=50 g2=50",
        "retire g1",
        "promote g2",
        "rollout aborted g2 (started by bob)",
    ]
    assert (
        found[0].why.startswith("drift: 10.0.0.0: changed app.py") and "and 2 more" in found[0].why
    )
    assert (found[1].outcome, found[1].why) == ("interrupted", "interrupted")
    assert (found[2].outcome, found[2].why) == ("started", NOT_FINISHED)
    assert found[3].why == "refused: g2 is not healthy"
    assert (found[4].who, found[4].why) == ("rollout judge", "5xx 4% vs 0.1%")


def test_a_rollout_step_says_so_and_forced_or_unverified_records_are_marked():
    shifted = record("web", "shift", 1, weights={"g1": 75, "g2": 25}, rollout="r1", step=1, of=4)
    forced = JournalRecord(
        fleet="web", action="promote", operator="bob", args={"generation": "g2"}, forced=True
    )
    assert change(shifted).why == "rollout step 1/4"
    assert change(forced).what == "promote g2 [forced]"
    assert change(replace(forced, unverified=True)).what.startswith("[UNVERIFIED] promote")


def test_both_caps_are_said():
    journals = {
        "web": [record("web", "promote", m, generation="g1") for m in range(30)],
        "api": [record("api", "promote", m + 0.5, generation="g1") for m in range(5)],
    }
    merged = merge(journals, per_fleet=10, limit=8)
    assert merged.cut and merged.cut_fleets == ("web",)
    assert len(merged.changes) == 8 and merged.left_off == (10 + 5) - 8
    assert merged.changes[-1].at == T0 + timedelta(minutes=29)  # the newest are kept
    # a window that starts after the fleet's cut lost nothing of it
    recent = merge(journals, since=T0 + timedelta(minutes=25), per_fleet=10)
    assert not recent.cut


moments = st.lists(st.integers(min_value=0, max_value=50), max_size=12)


@given(st.dictionaries(st.sampled_from(["web", "api", "jobs"]), moments), st.integers(0, 50))
def test_merge_is_every_change_in_the_window_in_time_order(minutes, since):
    journals = {
        name: [record(name, "promote", m, generation="g1") for m in sorted(ms)]
        for name, ms in minutes.items()
    }
    start = T0 + timedelta(minutes=since)
    merged = merge(journals, since=start).changes
    assert [c.at for c in merged] == sorted(c.at for c in merged)
    wanted = {r.id for rs in journals.values() for r in rs if r.at >= start}
    assert {c.record for c in merged} == wanted
    assert all(
        c.fleet == next(n for n, rs in journals.items() if c.record in {r.id for r in rs})
        for c in merged
    )


def test_a_change_line_and_the_fleets_asked_for():
    shifted = record("web", "launch", 2, version="v2", generation="g2", note="fix \x1b[2J")
    assert line(change(shifted)) == (
        "2026-11-26T14:02:00Z  web  alice  launch v2 → g2  — fix \\x1b[2J"
    )
    config = MoltConfig(
        {n: FleetConfig(n, "local", None) for n in ("web", "api")}, state_dir=Path("/x")
    )
    assert chosen(None, config) == ["web", "api"]
    assert chosen(" api,web,api ", config) == ["api", "web"]
    for asked, said in (("web,nope", "unknown fleet 'nope'"), (",", "--fleet names no fleet")):
        with pytest.raises(ConfigError, match=f"^{said}; known fleets: web, api$"):
            chosen(asked, config)


def test_since_further_back_than_the_calendar_is_a_one_line_error():
    import pytest

    from backends.core.report import parse_since

    assert parse_since("36500d").days == 36500
    with pytest.raises(ValueError, match="at most 100 years"):
        parse_since("999999d")
