"""The local agent's journal heads move only along the chain: a head left behind (the
agent died between an append and saving its head) stays behind, so ``history --check``
names the records beyond it instead of a false re-chaining."""

from __future__ import annotations

from backends.core import chain
from backends.local.heads import Heads


def _journal(count: int) -> list[str]:
    lines, last = [], ""
    for number in range(count):
        last = chain.seal({"id": f"r{number}", "fleet": "web"}, chain.hash_of(last))
        lines.append(last)
    return lines


def test_a_head_left_behind_stays_behind(tmp_path):
    lines = _journal(4)
    heads = Heads(tmp_path)
    heads.advance("web", lines[0], stored=1, before="")
    heads.advance("web", lines[1], stored=0, before=chain.hash_of(lines[0]))
    # lines[2] was appended, then the agent died before saving its head
    heads = Heads(tmp_path)
    heads.advance("web", lines[3], stored=0, before=chain.hash_of(lines[2]))
    assert Heads(tmp_path).get("web") == chain.Anchor(2, chain.hash_of(lines[1]))
    report = chain.check(lines, Heads(tmp_path).get("web"), "the local agent")
    assert report.problems == (
        "2 records follow the head the local agent anchored (record 3 on): written "
        "outside Molt, or while the anchor could not be updated",
    )
