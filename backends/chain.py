"""A journal that proves itself: every write is one line that carries the hash of the
write before it (``prev``) and its own (``hash``), so a record edited or removed by
hand breaks the chain at that record, and ``molt history --check`` names it.

A line is ``{"prev":"<hash of the previous line>",<the record's JSON>,"hash":"<h>"}``
where ``h`` is the sha256 of the line without its ``,"hash":…`` tail. The journals seal
a line where they append it (the local agent, a shell script under ``flock`` on the LB
host, under the fleet lock on AWS), so the chain follows what is really stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

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
class ChainReport:
    """What ``molt history --check`` found: ``broken`` names the first bad record."""

    records: int  # sealed lines checked
    legacy: int  # older unsealed lines before the first sealed one (not checked)
    broken: str = ""

    @property
    def intact(self) -> bool:
        return not self.broken


def _who(data: dict[str, Any]) -> str:
    return (
        f"id {data.get('id', '?')}, {data.get('action', '?')} by {data.get('operator', '?')} "
        f"at {data.get('at', '?')}"
    )


def check(lines: list[str]) -> ChainReport:
    """Walk the chain oldest first; stop at the first line that does not hold."""
    prev: str | None = None
    legacy = sealed = 0
    seen: dict[str, int] = {}
    for number, line in enumerate((x for x in lines if x.strip()), start=1):
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return ChainReport(sealed, legacy, f"record {number} is not a Molt journal record")
        found = hash_of(line)
        if not found:
            if prev is None:
                legacy += 1
                continue
            return ChainReport(sealed, legacy, f"record {number} ({_who(data)}) carries no hash")
        if digest(unsealed(line)) != found:
            why = f"record {number} ({_who(data)}) was edited: its content does not match its hash"
            return ChainReport(sealed, legacy, why)
        if data.get("prev") != (GENESIS if prev is None else prev):
            why = (
                f"record {number} ({_who(data)}) does not follow the record before it "
                "(a record was removed, inserted or edited)"
            )
            return ChainReport(sealed, legacy, why)
        writes = seen[str(data.get("id"))] = seen.get(str(data.get("id")), 0) + 1
        if writes > 2:
            why = f"record {number} ({_who(data)}) writes an action a third time"
            return ChainReport(sealed, legacy, why)
        prev, sealed = found, sealed + 1
    return ChainReport(sealed, legacy)
