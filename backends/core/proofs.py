"""Proofs anchored outside what they prove: a generation's manifest is checked against
the digest journaled when it was launched, not only against itself.

A manifest sits beside the tree it describes, so whoever can edit the tree can edit
the manifest too; the journal (hash-chained, its head anchored elsewhere: see
:mod:`backends.core.chain`) is what says which manifest the launch made. Every backend's
``verify`` runs :func:`manifest_drift` on the manifest it found, so an edited file whose
hash was recomputed in the manifest — or a manifest of a format that cannot say
everything a tree holds — is drift, never clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from backends.core.chain import Walker
from backends.core.journal import Journal, JournalRecord, Outcome, parse_line
from backends.core.manifest import MANIFEST_NAME, manifest_digest
from backends.core.model import FileChange, FileDrift

FORGED = f"{MANIFEST_NAME} (differs from the digest journaled at launch)"
OLD_FORMAT = f"{MANIFEST_NAME} (old format without modes, links or directories: unverifiable)"
UNREADABLE = f"{MANIFEST_NAME} (not a manifest: unverifiable)"
UNKNOWN = f"{MANIFEST_NAME} (no digest journaled or kept at launch: unverifiable)"
DOUBTFUL = (
    f"{MANIFEST_NAME} (the journal cannot vouch for the digest of the launch: its record "
    "does not hold in the chain: unverifiable)"
)


def journaled_digest(records: Iterable[JournalRecord], generation: str) -> str:
    """The digest the launch that made ``generation`` journaled ("" if none did: a
    generation launched before Molt journaled digests). The first one journaled holds:
    a later write cannot move it."""
    for record in records:
        if (
            record.action == "launch"
            and record.outcome is Outcome.OK
            and record.args.get("generation") == generation
            and record.args.get("digest")
        ):
            return str(record.args["digest"])
    return ""


@dataclass(frozen=True, slots=True)
class LaunchProof:
    """What the journal proves about one generation's launch.

    Attributes:
        journaled: the digest a launch record that holds in the chain journaled ("" if none).
        doubtful: no such digest, and the journal cannot say there never was one (a
            launch record that does not hold carries a digest, or the chain breaks before
            a launch record that holds): the store's digest must not stand in.
    """

    journaled: str = ""
    doubtful: bool = False


class Launches:
    """Every generation's :class:`LaunchProof` in one fleet's journal, fed its stored
    writes oldest first (as :func:`~backends.core.journal.read_lines` reads them: a write
    holds if it follows the chain), so a reader that keeps up with the journal never
    reads it whole again. Only launch records are kept.

    Attributes:
        lines_read: every write this has been fed (a measure of its cost).
    """

    def __init__(self, fleet: str) -> None:
        self.fleet = fleet
        self.lines_read = 0
        self._walker = Walker()
        self._first: dict[str, tuple[JournalRecord, bool]] = {}  # launch id → folded, holds
        self._digests: dict[str, tuple[datetime, str]] = {}
        self._undigested: set[str] = set()
        self._doubtful: set[str] = set()

    def feed(self, lines: Iterable[str]) -> int:
        count = 0
        for line in lines:
            if not line.strip():
                continue
            count += 1
            data, holds = self._walker.step(line)
            record = parse_line(line) if data is None else _record(data)
            if record is not None and record.fleet == self.fleet and record.action == "launch":
                self._take(record, holds)
        self.lines_read += count
        return count

    def _take(self, write: JournalRecord, holds: bool) -> None:
        generation = str(write.args.get("generation") or "")
        if generation and not holds and write.args.get("digest"):
            self._doubtful.add(generation)
        first = self._first.get(write.id)
        if first is None:
            record = write
        elif first[0].outcome is Outcome.STARTED and write.outcome is not Outcome.STARTED:
            record = replace(first[0], outcome=write.outcome, args={**write.args, **first[0].args})
            holds = holds and first[1]
        else:
            return  # a third write, or one rewriting an outcome: ignored (see ``fold``)
        self._first[write.id] = (record, holds)
        generation = str(record.args.get("generation") or "")
        if not generation or not holds or record.outcome is Outcome.STARTED:
            return
        digest = str(record.args.get("digest") or "")
        if not digest:
            self._undigested.add(generation)
        elif record.outcome is Outcome.OK:
            known = self._digests.get(generation)
            if known is None or record.at < known[0]:  # the first journaled holds
                self._digests[generation] = (record.at, digest)

    def proof(self, generation: str) -> LaunchProof:
        if generation in self._digests:
            return LaunchProof(self._digests[generation][1])
        broken = bool(self._walker.broken) and generation not in self._undigested
        return LaunchProof("", generation in self._doubtful or broken)


def launch_proof(lines: Iterable[str], fleet: str, generation: str) -> LaunchProof:
    """:meth:`Launches.proof` of ``generation`` from ``fleet``'s stored writes."""
    launches = Launches(fleet)
    launches.feed(lines)
    return launches.proof(generation)


class JournalLaunches:
    """:class:`Launches` of one fleet kept up with a :class:`~backends.core.journal.Journal`:
    each look reads only the writes stored since the last (a launch record never
    changes once read, so a verify need not read the whole journal again)."""

    def __init__(self, fleet: str) -> None:
        self.fleet = fleet
        self._journal: Journal | None = None
        self._launches = Launches(fleet)
        self._cursor = ""
        self._reading = asyncio.Lock()

    async def proof(self, journal: Journal, generation: str) -> LaunchProof:
        async with self._reading:
            if journal is not self._journal:  # another journal: start over
                self._journal, self._launches, self._cursor = journal, Launches(self.fleet), ""
            lines, self._cursor = await journal.after(self.fleet, self._cursor)
            self._launches.feed(lines)
            return self._launches.proof(generation)


def _record(data: Mapping[str, Any]) -> JournalRecord | None:
    try:
        return JournalRecord.from_json(data)
    except (ValueError, KeyError, TypeError):
        return None


def old_format(manifest: Mapping[str, Any]) -> bool:
    """A manifest written before links, directories and modes were recorded: its
    entries are bare sha256 strings (or files without a mode)."""
    return any(
        not isinstance(entry, dict) or ("sha256" in entry and "mode" not in entry)
        for entry in manifest.values()
    )


def manifest_problem(
    manifest: Any, journaled: str, kept: str = "", *, doubtful: bool = False
) -> str:
    """What is wrong with the manifest found beside a tree ("" if it is the one the
    launch made). ``journaled``: the digest from the journal; ``kept``: the digest the
    backend's own store kept, used only for a generation whose launch journaled none —
    never when ``doubtful`` (see :class:`LaunchProof`): the store may be as edited as
    the tree."""
    if not isinstance(manifest, dict):
        return UNREADABLE
    if old_format(manifest):
        return OLD_FORMAT
    if not journaled and doubtful:
        return DOUBTFUL
    expected = journaled or kept
    if not expected:
        return UNKNOWN
    return "" if manifest_digest(manifest) == expected else FORGED


def manifest_drift(
    host: str, manifest: Any, journaled: str, kept: str = "", *, doubtful: bool = False
) -> list[FileDrift]:
    """:func:`manifest_problem` as drift on ``host`` (empty when the manifest holds)."""
    problem = manifest_problem(manifest, journaled, kept, doubtful=doubtful)
    return [FileDrift(host, problem, FileChange.CHANGED)] if problem else []
