"""A manifest is held against the digest journaled at launch: one recomputed after an
edit, one of the first format, one that is not a manifest, and one with no digest to
hold it against are never clean."""

from __future__ import annotations

from backends.core import chain
from backends.core.journal import JournalRecord, Outcome
from backends.core.manifest import manifest_digest
from backends.core.proofs import (
    DOUBTFUL,
    FORGED,
    OLD_FORMAT,
    UNKNOWN,
    UNREADABLE,
    Launches,
    LaunchProof,
    journaled_digest,
    launch_proof,
)
from backends.core.proofs import manifest_problem as problem
from backends.local.heads import Heads

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


# the store's digest stands in only when the journal can say the launch journaled none --


def _sealed(*writes: JournalRecord, after: str = "") -> list[str]:
    lines, last = [], after
    for write in writes:
        last = chain.seal(write.to_json(), chain.hash_of(last))
        lines.append(last)
    return lines


def _launch(generation: str, digest: str = "") -> list[JournalRecord]:
    args = {"generation": generation, "version": "v1"} | ({"digest": digest} if digest else {})
    started = JournalRecord("web", "launch", "amy", args)
    return [started, started.finished(Outcome.OK)]


def test_a_garbage_line_before_the_launch_makes_the_manifest_unverifiable_not_clean():
    digest = manifest_digest(MANIFEST)
    forged = MANIFEST | {"x": {"sha256": "c" * 64, "mode": "0444"}}
    shift = JournalRecord("web", "shift", "amy", {"weights": {"g1": 100}})
    lines = _sealed(shift, *_launch("g1", digest))
    assert launch_proof(lines, "web", "g1") == LaunchProof(digest)
    edited = [lines[0], "not json at all", *lines[1:]]  # the chain breaks before the launch
    proof = launch_proof(edited, "web", "g1")
    assert proof == LaunchProof("", doubtful=True)
    # the store's row was edited with the tree: it must not stand in
    kept = manifest_digest(forged)
    assert problem(forged, proof.journaled, kept, doubtful=proof.doubtful) == DOUBTFUL
    assert problem(MANIFEST, proof.journaled, kept, doubtful=proof.doubtful) == DOUBTFUL
    # a generation with no launch record at all, once the chain is broken: unverifiable too
    assert launch_proof(edited, "web", "g9").doubtful


def test_the_store_stands_in_only_for_a_verified_launch_without_digest_or_no_launch():
    digest = manifest_digest(MANIFEST)
    old = _sealed(*_launch("g1"))  # launched before digests were journaled
    assert launch_proof(old, "web", "g1") == LaunchProof("", doubtful=False)
    assert problem(MANIFEST, "", digest, doubtful=False) == ""
    assert launch_proof(old, "web", "g2") == LaunchProof("", doubtful=False)  # intact, none
    broken_after = [*old, "garbage"]
    assert launch_proof(broken_after, "web", "g1") == LaunchProof("", doubtful=False)
    # a launch record of g1 that does not hold, carrying a digest: doubtful
    unverified = [*old, "garbage", *_sealed(*_launch("g1", digest))]
    assert launch_proof(unverified, "web", "g1").doubtful
    # a verified digest holds whatever follows
    good = _sealed(*_launch("g1", digest))
    assert launch_proof([*good, "garbage", *_sealed(*_launch("g1", "d2"))], "web", "g1") == (
        LaunchProof(digest)
    )


def test_launches_fed_write_by_write_agree_with_one_read():
    digest = manifest_digest(MANIFEST)
    lines = _sealed(*_launch("g1", digest), *_launch("g2"), *_launch("g3", "d3"))
    fed = Launches("web")
    for line in lines:
        fed.feed([line])
    for generation in ("g1", "g2", "g3", "g4"):
        assert fed.proof(generation) == launch_proof(lines, "web", generation)
    assert fed.proof("g3") == LaunchProof("d3") and fed.lines_read == len(lines)
