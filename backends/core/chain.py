"""A journal that proves itself: every write is one line that carries the hash of the
write before it (``prev``) and its own (``hash``), so a record edited or removed by
hand breaks the chain at that record, and ``molt history --check`` names it.

A line is ``{"prev":"<hash of the previous line>",<the record's JSON>,"hash":"<h>"}``
where ``h`` is the sha256 of the line without its ``,"hash":…`` tail. The journals seal
a line where they append it (the local agent, a shell script under ``flock`` on the LB
host, under the fleet lock on AWS), so the chain follows what is really stored.

A chain alone can be rebuilt by whoever can write the store (the hashes carry no key),
so each backend also keeps the journal's head — how many lines, the hash of the last —
where editing the store alone cannot reach it (:class:`Anchor`: kept by the local
agent, on the SSH fleet's app hosts, in tags on the AWS fleet's listener). ``check``
holds the stored head against it: truncation, re-chaining and records beyond it fail.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

_HEAD_TEXT = re.compile(r"([0-9]{1,12}) ([0-9a-f]{64})")
GENESIS = ""  # the prev of a journal's first sealed line
HASH_TAIL = ',"hash":"'


def body(record: dict[str, Any], prev: str) -> str:
    """The line before its hash: ``prev`` first, then the record (keys sorted)."""
    rest = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return '{"prev":"' + prev + '",' + rest[1:]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def seal(record: dict[str, Any], prev: str) -> str:
    """The stored line of ``record`` after the line whose hash is ``prev``."""
    text = body(record, prev)
    return text[:-1] + HASH_TAIL + digest(text) + '"}'


def hash_of(line: str) -> str:
    """The hash a sealed line carries ("" for a line an older Molt wrote unsealed)."""
    head, sep, tail = line.rstrip().rpartition(HASH_TAIL)
    if not sep or not tail.endswith('"}') or len(tail) != 66:
        return ""
    return tail[:64]


def unsealed(line: str) -> str:
    """The line without its hash tail: what the hash covers."""
    head, _, _ = line.rstrip().rpartition(HASH_TAIL)
    return head + "}"


@dataclass(frozen=True, slots=True)
class Anchor:
    """The journal's head as kept outside the journal's store: how many lines it held
    and the hash of the last. Editing the store alone cannot move it."""

    count: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "head": self.head}

    @classmethod
    def from_json(cls, data: Any) -> Anchor | None:
        """An anchor as stored (None for anything that is not one)."""
        if not isinstance(data, dict):
            return None
        count, head = data.get("count"), data.get("head")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return None
        return cls(count, head) if isinstance(head, str) else None

    def text(self) -> str:
        """``<count> <hash>``: how a host file or a tag holds it."""
        return f"{self.count} {self.head}"

    @classmethod
    def parse(cls, text: str) -> Anchor | None:
        """An anchor from :meth:`text` (None for anything else)."""
        found = _HEAD_TEXT.fullmatch(text.strip())
        return cls(int(found[1]), found[2]) if found else None

    def after(self, line: str) -> Anchor:
        """The head once ``line`` is appended."""
        return Anchor(self.count + 1, hash_of(line))


def head_of(lines: list[str]) -> Anchor:
    """The head of a journal as stored (what an anchor starts from)."""
    kept = [x for x in lines if x.strip()]
    return Anchor(len(kept), hash_of(kept[-1]) if kept else GENESIS)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``molt history --check`` found: every failure, worst first (none: intact)."""

    records: int  # sealed lines that hold
    unhashed: int = 0  # lines that carry no hash: unverifiable
    problems: tuple[str, ...] = ()
    anchored: str = ""  # where the head is anchored ("" if nowhere)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def broken(self) -> str:
        """Every failure, in one line."""
        return "; ".join(self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "unhashed": self.unhashed,
            "anchored": self.anchored,
            "problems": list(self.problems),
        }


def _who(data: dict[str, Any]) -> str:
    return (
        f"id {data.get('id', '?')}, {data.get('action', '?')} by {data.get('operator', '?')} "
        f"at {data.get('at', '?')}"
    )


def _break(number: int, data: dict[str, Any], prev: str | None, seen: dict[str, int]) -> str:
    """Why a sealed line does not hold ("" if it does)."""
    if data.get("prev") != (GENESIS if prev is None else prev):
        return (
            f"record {number} ({_who(data)}) does not follow the record before it "
            "(a record was removed, inserted or edited)"
        )
    if seen.get(str(data.get("id")), 0) >= 2:
        return f"record {number} ({_who(data)}) writes an action a third time"
    return ""


Walked = list[tuple[dict[str, Any] | None, bool]]


class Walker:
    """:func:`walk`, one line at a time (for readers that keep up with a journal as it
    grows instead of reading it whole).

    Attributes:
        broken: the first break ("" while the chain holds).
        sealed: sealed lines that hold so far.
    """

    def __init__(self) -> None:
        self.prev: str | None = None
        self.seen: dict[str, int] = {}
        self.broken = ""
        self.sealed = 0
        self.number = 0

    def step(self, line: str) -> tuple[dict[str, Any] | None, bool]:
        """The next non-blank line: its JSON if read, and whether it holds."""
        self.number += 1
        number = self.number
        if self.broken:
            return None, False
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            self.broken = f"record {number} is not a Molt journal record"
            return None, False
        found = hash_of(line)
        if not found and self.prev is None:
            return data, False  # before the first sealed line: unhashed, skipped
        if not found:
            self.broken = f"record {number} ({_who(data)}) carries no hash"
        elif digest(unsealed(line)) != found:
            self.broken = (
                f"record {number} ({_who(data)}) was edited: its content does not match its hash"
            )
        else:
            self.broken = _break(number, data, self.prev, self.seen)
        if self.broken:
            return data, False
        self.seen[str(data.get("id"))] = self.seen.get(str(data.get("id")), 0) + 1
        self.prev, self.sealed = found, self.sealed + 1
        return data, True


def walk(lines: list[str]) -> tuple[Walked, int, str]:
    """(for each non-blank line: its JSON if read, and whether it holds; sealed lines
    that hold; the first break). A line holds if it carries its own hash and follows
    the line before it; every line from the first break on is unverified (and not
    read), and so is a line with no hash."""
    walker = Walker()
    walked: Walked = [walker.step(line) for line in lines if line.strip()]
    return walked, walker.sealed, walker.broken


def _unhashed(lines: list[str]) -> list[int]:
    return [n for n, x in enumerate((x for x in lines if x.strip()), start=1) if not hash_of(x)]


def _against(kept: list[str], anchor: Anchor | None, where: str) -> list[str]:
    """What the stored head says against the anchored one."""
    if anchor is None:
        if not kept:
            return []
        return [
            f"the journal's head is anchored nowhere ({where} holds no anchor): removed "
            "or rewritten records cannot be ruled out"
        ]
    if anchor.count > len(kept):
        return [
            f"the journal was truncated: it holds {len(kept)} records, {where} anchored "
            f"{anchor.count} (the last {anchor.count - len(kept)} were removed)"
        ]
    problems = []
    if anchor.count and hash_of(kept[anchor.count - 1]) != anchor.head:
        problems.append(
            f"the journal was re-chained: record {anchor.count}'s hash is not the head "
            f"{where} anchored (records were rewritten, removed or inserted and the hashes "
            "recomputed)"
        )
    if len(kept) > anchor.count:
        problems.append(
            f"{len(kept) - anchor.count} records follow the head {where} anchored "
            f"(record {anchor.count + 1} on): written outside Molt, or while the anchor "
            "could not be updated"
        )
    return problems


def check(lines: list[str], anchor: Anchor | None = None, where: str = "") -> ChainReport:
    """Walk the chain oldest first, then hold its head against ``anchor`` (kept by
    ``where``). Every failure is reported: a break, unhashed lines, and a head that
    is not the anchored one (truncation, re-chaining, records beyond it)."""
    kept = [x for x in lines if x.strip()]
    _, sealed, broken = walk(kept)
    problems = [broken] if broken else []
    unhashed = _unhashed(kept)
    if unhashed:
        problems.append(
            f"{len(unhashed)} records carry no hash (record "
            f"{', '.join(str(n) for n in unhashed[:5])}{'…' if len(unhashed) > 5 else ''}): "
            "inserted by hand or written before the chain, they cannot be verified"
        )
    problems += _against(kept, anchor, where or "the anchor")
    return ChainReport(sealed, len(unhashed), tuple(problems), where if anchor else "")
