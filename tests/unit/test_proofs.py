"""A manifest is held against the digest journaled at launch: one recomputed after an
edit, one of the first format, one that is not a manifest, and one with no digest to
hold it against are never clean."""

from __future__ import annotations

from backends import chain
from backends.journal import JournalRecord, Outcome
from backends.local.heads import Heads
from backends.manifest import manifest_digest
from backends.proofs import FORGED, OLD_FORMAT, UNKNOWN, UNREADABLE, journaled_digest
from backends.proofs import manifest_problem as problem

MANIFEST = {"app.py": {"sha256": "a" * 64, "mode": "0444"}, "lib": {"dir": "0555"}}


def test_the_launch_made_manifest_is_clean_and_any_other_is_not():
    digest = manifest_digest(MANIFEST)
    assert problem(MANIFEST, digest) == ""
    recomputed = MANIFEST | {"app.py": {"sha256": "b" * 64, "mode": "0444"}}
    assert problem(recomputed, digest) == FORGED
    assert problem(recomputed, digest, kept=manifest_digest(recomputed)) == FORGED
    assert problem({"app.py": "a" * 64}, digest) == OLD_FORMAT
    assert problem({"app.py": {"sha256": "a" * 64}}, digest) == OLD_FORMAT
    assert problem(None, digest) == UNREADABLE and problem([], digest) == UNREADABLE
    assert problem(MANIFEST, "") == UNKNOWN
    assert problem(MANIFEST, "", kept=digest) == ""  # a launch from before digests


def test_the_first_digest_journaled_for_a_generation_holds():
    def launch(generation: str, digest: str, outcome: Outcome = Outcome.OK) -> JournalRecord:
        args = {"generation": generation, "digest": digest}
        return JournalRecord("web", "launch", "amy", args, outcome=outcome)

    records = [launch("g1", "d0", Outcome.FAILED), launch("g1", "d1"), launch("g1", "d2")]
    assert journaled_digest(records, "g1") == "d1"
    assert journaled_digest(records, "g2") == ""


def test_the_agent_keeps_heads_across_restarts(tmp_path):
    line = chain.seal({"id": "x", "fleet": "web"}, "")
    heads = Heads(tmp_path)
    heads.advance("web", line, stored=5, before="")  # anchored from the store as it is
    assert heads.get("web") == chain.Anchor(5, chain.hash_of(line))
    heads.advance("web", line, stored=0, before=chain.hash_of(line))
    assert Heads(tmp_path).get("web") == chain.Anchor(6, chain.hash_of(line))
    assert oct((tmp_path / "journal-heads.json").stat().st_mode & 0o777) == "0o600"
