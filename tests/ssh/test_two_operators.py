"""Two operators on one SSH fleet at the same instant, and a journal that proves itself:
one launch applies, the other is refused naming the first; a record edited by hand on
the LB host is named by ``molt history --check``."""

from __future__ import annotations

import json

import pytest

from tests.support.at_once import at_once, one_won

pytestmark = pytest.mark.slow


def test_two_launches_at_once_one_applies_and_the_other_names_the_holder(make_fleet):
    fleet = make_fleet(count=1)
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    done = at_once(
        [["launch", fleet.name, "--version", "v2"], ["launch", fleet.name, "--version", "v3"]],
        state_dir=fleet.state_dir,
        config=fleet.config,
    )
    winner, said = one_won(done)
    assert f": launch v{3 - winner}" not in said and f": launch v{2 + winner}, since" in said
    status = fleet.status()
    assert [(g["id"], g["version"]) for g in status["generations"]] == [
        ("g1", "v1"),
        ("g2", f"v{2 + winner}"),
    ]
    assert status["lock"] is None and status["interrupted"] == []
    records = json.loads(fleet.ok("history", fleet.name, "--json"))["records"]
    assert [(r["action"], r["outcome"]) for r in records][-1] == ("launch", "ok")


def test_history_check_names_a_record_edited_on_the_lb_host(make_fleet):
    fleet = make_fleet(count=1)
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    assert "chain intact" in fleet.ok("history", fleet.name, "--check")
    journal = fleet.rig.hosts[0].srv / "molt" / fleet.name / "journal.jsonl"
    lines = journal.read_text().splitlines()
    lines[2] = lines[2].replace('"promote"', '"rollback"')
    journal.write_text("\n".join(lines) + "\n")
    broken = fleet.molt("history", fleet.name, "--check")
    assert broken.returncode == 1
    (said,) = broken.stderr.strip().splitlines()
    assert said.startswith(f"molt: the journal of {fleet.name} is broken: record 3 (id ")
