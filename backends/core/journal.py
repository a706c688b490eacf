"""The audit journal: who did what to which fleet, when, weights before → after, outcome.

Every mutating action writes its record twice under one id: once with outcome
``started`` *before* anything is touched, and again with the final outcome. Journals
are append-only (a CloudWatch Logs stream, a file on the LB host, a SQLite table) and
hash-chained (:mod:`backends.core.chain`); readers fold the writes of one id into one record:
the first write says what was done, the second only how it ended.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from backends.core.chain import Anchor, ChainReport, check, hash_of, head_of, walk
from backends.core.model import iso, parse_iso, utcnow

#: looks a ``history --check`` takes at a journal being written while it reads it
CHECK_LOOKS = 3
CHECK_PAUSE = 0.5


def _held_against(lines: list[str], before: Anchor | None, after: Anchor | None) -> Anchor | None:
    """The anchor to hold ``lines`` against, read between the anchor looks ``before``
    and ``after``. Lines that reach ``after`` are held against it. Lines that went on
    past ``before`` but not as far as ``after`` were written while being read: when
    ``before``'s head is where it should be among them, the head is theirs (the chain
    walk still checks every line after it); otherwise ``before`` as it is, so the
    check names what does not match."""
    stored = [line for line in lines if line.strip()]
    if after is None or after.count <= len(stored) or before is None:
        return after
    if before.count <= len(stored) and (
        before.count == 0 or hash_of(stored[before.count - 1]) == before.head
    ):
        return head_of(stored)
    return before


class Outcome(StrEnum):
    STARTED = "started"  # written before acting; stays so if Molt died mid-action
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # Molt was stopped mid-action; running it again finishes it


def os_operator() -> str:
    """The operator as the OS knows them (local and ssh backends)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


#: how a record read from a line that does not hold in the chain is marked wherever shown
UNVERIFIED = "[UNVERIFIED]"

#: how the judge's verdicts read in the stream, the timeline and reports
JUDGED = {"abort": "aborted", "inconclusive": "found inconclusive"}


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One mutating action."""

    fleet: str
    action: str
    operator: str
    args: Mapping[str, Any] = field(default_factory=dict)
    weights_before: Mapping[str, int] = field(default_factory=dict)
    weights_after: Mapping[str, int] = field(default_factory=dict)
    outcome: Outcome = Outcome.STARTED
    reason: str = ""
    forced: bool = False
    at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: read from a line that does not hold in the chain (no hash, or after a break):
    #: shown marked, never as real; never stored
    unverified: bool = False

    def finished(
        self,
        outcome: Outcome,
        reason: str = "",
        weights_after: Mapping[str, int] | None = None,
    ) -> JournalRecord:
        """The same action's second write: its outcome. ``at`` stays the start time."""
        return replace(
            self,
            outcome=outcome,
            reason=reason,
            weights_after=dict(weights_after) if weights_after is not None else self.weights_after,
        )

    @property
    def by_judge(self) -> bool:
        """A rollout's verdict the judge reached (an automatic abort, inconclusive)."""
        return self.action == "rollout" and bool(self.args.get("judge"))

    def summary(self) -> str:
        """``shift g1=70 g2=30 (was 100/0)`` — what the event stream and history show."""
        args = self.args
        words = [self.action]
        if self.action == "launch":
            words.append(str(args.get("version", "")))
            if args.get("count"):
                words.append(f"×{args['count']}")
            if args.get("generation"):
                words.append(f"→ {args['generation']}")
            if args.get("resumed"):
                words.append("(finished a launch cut short)")
            if args.get("note"):
                words.append(f"“{args['note']}”")
        elif self.action == "rollout" and args.get("judge"):
            # the judge's own verdict: said as the judge's, not the operator's
            words = ["rollout judge", JUDGED.get(str(args.get("event")), str(args.get("event")))]
            words.append(str(args.get("generation", "")))
            if args.get("started_by"):
                words.append(f"(started by {args['started_by']})")
            if args.get("reason"):
                words.append(f"— {args['reason']}")
        elif self.action == "rollout":
            words += [str(args.get("event", "")), str(args.get("generation", ""))]
            if args.get("baseline"):
                words.append(f"against {args['baseline']}")
            if args.get("reason"):
                words.append(f"— {args['reason']}")
        elif "weights" in args:
            words.extend(f"{g}={w}" for g, w in args["weights"].items())
        elif args.get("generation"):
            words.append(str(args["generation"]))
        if self.weights_before and self.action in {"shift", "promote", "rollback"}:
            before = "/".join(str(v) for v in self.weights_before.values())
            words.append(f"(was {before})")
        if self.action == "shift" and args.get("rollout"):
            words.append(
                f"— rollout step {args['step']}/{args['of']}"
                if args.get("step")
                else "— rollout back to the baseline"
            )
        if self.forced:
            words.append("[forced]")
        if self.unverified:  # first, wherever a record is shown: not proven real
            words.insert(0, UNVERIFIED)
        if self.outcome is Outcome.REFUSED:
            words.append(f"— refused: {self.reason}")
        elif self.outcome is Outcome.FAILED:
            words.append(f"— failed: {self.reason}")
        elif self.outcome is Outcome.INTERRUPTED:
            words.append(f"— interrupted: {self.reason}")
        return " ".join(words)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = iso(self.at, precise=True)
        data["outcome"] = self.outcome.value
        data["args"] = dict(self.args)
        data["weights_before"] = dict(self.weights_before)
        data["weights_after"] = dict(self.weights_after)
        if not self.unverified:
            del data["unverified"]
        return data

    def to_line(self) -> str:
        """One JSON line, as append-only journals store it."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JournalRecord:
        return cls(
            id=str(data["id"]),
            at=parse_iso(data["at"]) or utcnow(),
            fleet=str(data["fleet"]),
            action=str(data["action"]),
            operator=str(data["operator"]),
            args=dict(data.get("args") or {}),
            weights_before=dict(data.get("weights_before") or {}),
            weights_after=dict(data.get("weights_after") or {}),
            outcome=Outcome(data.get("outcome", "started")),
            reason=str(data.get("reason") or ""),
            forced=bool(data.get("forced", False)),
        )


def fold(writes: Iterable[JournalRecord]) -> list[JournalRecord]:
    """Fold append-only writes into one record per action, oldest first. The first
    write of an id says what was done; a second may only say how a *started* action
    ended (outcome, reason, weights after, what it made); any other is ignored — a line
    appended later cannot rewrite history (``history --check`` names it)."""
    folded: dict[str, JournalRecord] = {}
    for record in writes:
        first = folded.get(record.id)
        folded[record.id] = record if first is None else fold_write(first, record)
    return sorted(folded.values(), key=lambda r: r.at)


def fold_write(first: JournalRecord, write: JournalRecord) -> JournalRecord:
    """``first`` with a later write of the same action folded in: only a *started*
    action's outcome can follow; any other write changes nothing."""
    if first.outcome is not Outcome.STARTED or write.outcome is Outcome.STARTED:
        return first
    return replace(
        first,
        outcome=write.outcome,
        reason=write.reason,
        weights_after=write.weights_after,
        args={**write.args, **first.args},
        unverified=first.unverified or write.unverified,
    )


def parse_line(line: str) -> JournalRecord | None:
    """A stored write (sealed or not), or None for a line that is not one of ours."""
    try:
        data = json.loads(line)
        return JournalRecord.from_json(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def read_lines(lines: list[str], fleet: str) -> list[JournalRecord]:
    """``fleet``'s actions from stored lines, folded; a line that does not hold in the
    chain (no hash, or after a break) gives a record marked ``unverified``."""
    kept = [x for x in lines if x.strip()]
    walked, _, _ = walk(kept)
    parsed = []
    for line, (data, holds) in zip(kept, walked, strict=True):
        record = parse_line(line) if data is None else _from_data(data)
        if record is not None and record.fleet == fleet:
            parsed.append(replace(record, unverified=True) if not holds else record)
    return fold(parsed)


def _from_data(data: Mapping[str, Any]) -> JournalRecord | None:
    try:
        return JournalRecord.from_json(data)
    except (ValueError, KeyError, TypeError):
        return None


class Journal(ABC):
    """Where a backend keeps its audit records: sealed lines, appended, and the head
    of the chain anchored where editing the store alone cannot reach it.

    Attributes:
        reads_cost: each read is a billed, rate-limited call (CloudWatch Logs): readers
            that poll read it only when it can have changed (see
            :class:`~backends.core.journal_view.JournalView`).
    """

    #: who keeps the anchor, as ``history --check`` names it
    anchored_at = "nowhere"
    reads_cost: bool = False

    @abstractmethod
    async def write(self, record: JournalRecord) -> None:
        """Append one write (a start or an outcome), sealed onto the chain, durably
        before returning; raise if it could not be stored."""

    @abstractmethod
    async def lines(self, fleet: str) -> list[str]:
        """Every stored write of ``fleet``, as stored, oldest first."""

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        """The writes of ``fleet`` stored after ``cursor`` (a token this journal handed
        out; "" for the first write), and the cursor after them. This default reads
        everything and counts; journals that can seek override it."""
        lines = await self.lines(fleet)
        start = int(cursor) if cursor.isdigit() else 0
        return lines[start:], str(len(lines))

    async def summary(self, fleet: str) -> tuple[list[str], str]:
        """The writes a reader needs to know where ``fleet`` stands (see
        :class:`~backends.core.journal_view.JournalView`), and the cursor after the last
        write. This default hands over every write; a journal that keeps a view of its
        own answers with only the writes it kept."""
        return await self.after(fleet, "")

    async def summary_state(self, fleet: str) -> tuple[list[str], str, dict[str, Any] | None]:
        """:meth:`summary`, and what the keeper of a view found of the chain (see
        :meth:`~backends.core.journal_view.JournalView.state`); None: the writes are every
        stored write, oldest first, for the reader to hold against the chain itself."""
        lines, cursor = await self.summary(fleet)
        return lines, cursor, None

    async def records(self, fleet: str) -> list[JournalRecord]:
        """Every action on ``fleet``, folded, oldest first (unverified ones marked)."""
        return read_lines(await self.lines(fleet), fleet)

    async def anchor(self, fleet: str) -> Anchor | None:
        """The head of ``fleet``'s journal as kept outside its store (None: none kept)."""
        return None

    async def check(self, fleet: str) -> ChainReport:
        """Verify the hash chain of ``fleet``'s journal and hold its head against the
        anchor. The lines are read between two looks at the anchor: a journal written
        to meanwhile (a rollout, another operator) is read again, a few times, and held
        against the later look if the lines reach it, else the earlier one — writes that
        landed while it was read are not reported as truncation or records beyond the
        head (see :func:`_held_against`)."""
        for attempt in range(CHECK_LOOKS):
            if attempt:
                await asyncio.sleep(CHECK_PAUSE)
            before = await self.anchor(fleet)
            lines = await self.lines(fleet)
            after = await self.anchor(fleet)
            stored = sum(1 for line in lines if line.strip())
            if before == after and (after is None or after.count == stored):
                break  # still while read, and the head where the anchor says
        return check(lines, _held_against(lines, before, after), self.anchored_at)
