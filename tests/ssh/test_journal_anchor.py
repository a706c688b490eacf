"""The SSH journal's head is anchored on the app hosts: someone who can edit the LB
host's ``journal.jsonl`` — truncate it, or rebuild its chain with Molt's own hashing
code — is named by ``history --check`` (piped and with --json), unless they also edit
every app host."""

from __future__ import annotations

import json

import pytest

from backends.core import chain
from backends.core.manifest import build_manifest, manifest_digest
from tests.support.forgery import rechain

pytestmark = pytest.mark.slow



def _check_fails(fleet, words: str) -> None:
    piped = fleet.molt("history", fleet.name, "--check")
    assert piped.returncode == 1 and words in piped.stderr, piped.stderr
    found = fleet.molt("history", fleet.name, "--check", "--json")
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["intact"] is False and report["anchored"] == "the app hosts"
    assert any(words in p for p in report["problems"]), report


def test_the_head_lives_on_the_app_hosts_and_catches_truncation_and_rechaining(make_fleet):
    fleet = make_fleet(count=1)
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    assert "chain intact, head anchored by the app hosts" in fleet.ok(
        "history", fleet.name, "--check"
    )
    lb, *apps = fleet.rig.hosts
    journal = lb.srv / "molt" / fleet.name / "journal.jsonl"
    lines = journal.read_text().splitlines()
    for app in apps:  # the head, on every app host but the LB host
        head = (app.srv / "molt" / fleet.name / "journal.head").read_text().split()
        assert head == [str(len(lines)), chain.hash_of(lines[-1])]
    assert not (lb.srv / "molt" / fleet.name / "journal.head").exists()

    journal.write_text("\n".join(lines[:-2]) + "\n")  # the promote, gone
    _check_fails(fleet, f"truncated: it holds {len(lines) - 2} records, the app hosts")

    forged = rechain(lines, lambda data: data | {"operator": "mallory"})
    journal.write_text("\n".join(forged) + "\n")
    assert chain.check(forged).records == len(lines)  # the chain alone holds
    _check_fails(fleet, "re-chained")


def test_verify_holds_the_manifest_against_the_journal_not_the_lb_state(make_fleet):
    fleet = make_fleet()
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    assert "g1: clean" in fleet.ok("verify", fleet.name)
    lb, app, *_ = fleet.rig.hosts
    home = app.srv / "molt" / fleet.name / "g1"
    (home / "tree" / "app.py").chmod(0o644)
    with (home / "tree" / "app.py").open("a") as handle:
        handle.write("BACKDOOR = True\n")
    (home / "tree" / "app.py").chmod(0o444)
    manifest = build_manifest(home / "tree")  # the hash recomputed, beside the tree
    (home / "manifest.json").chmod(0o644)
    (home / "manifest.json").write_text(json.dumps(manifest))
    state = lb.srv / "molt" / fleet.name / "state.json"  # and the LB host's digest too
    desired = json.loads(state.read_text())
    for generation in desired["generations"]:
        generation["digest"] = manifest_digest(manifest)
    state.write_text(json.dumps(desired))
    done = fleet.molt("verify", fleet.name, "g1")
    assert done.returncode == 1
    assert f"{app.address}: changed manifest.json (differs from the digest journaled" in done.stdout
