"""Where a fleet stands, from its journal, reading only what is new.

Status, the TUI's looks and a rollout's ticks need little of a long journal: the actions
that never finished (interrupted), the latest rollout and what followed it, the drift
found, and the last few actions to show. A :class:`JournalView` keeps just those, folded
(a record's two writes into one), and moves on by reading the writes after its cursor
(:meth:`~backends.core.journal.Journal.after`), so a poll costs what was written since the
last one — not the whole journal — and memory stays flat however long the journal grows.

It starts from :meth:`~backends.core.journal.Journal.summary`: the local agent keeps a view
of its own and answers with the writes it kept; other journals hand over every write,
once. ``molt history`` and reports still read everything: they are about everything.

Each write is held against the chain as it arrives (:func:`~backends.core.chain.walk`, one
line at a time: the view carries the hash of the last line that held and whether the
chain broke), so a record :func:`~backends.core.journal.read_lines` marks ``unverified`` —
unhashed, or after a break — is marked here too: shown as such, and kept out of where
the fleet stands (:meth:`JournalView.records`). A summary that hands over only the kept
writes comes with what its keeper found of them (:meth:`JournalView.state`).

Writes are kept in the order they were stored, which is the order of their start times
(every write is made under the fleet lock), so "a later record finishes an earlier one"
can be decided as records arrive.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from backends.core.chain import GENESIS, digest, hash_of, unsealed
from backends.core.interrupted import finishes
from backends.core.journal import Journal, JournalRecord, Outcome, fold_write, parse_line
from backends.core.rollout import BY_HAND

RECENT = 500  # the last actions kept for display (the TUI shows as many at start)
QUIET_LOOKS = 6  # a journal whose reads cost: read at least every this many looks


@dataclass(slots=True)
class _Kept:
    record: JournalRecord | None  # its writes that hold in the chain, folded (None: none)
    shown: JournalRecord  # every write folded, marked unverified if one does not hold
    lines: list[str] = field(default_factory=list)  # its writes, as stored
    holds: list[bool] = field(default_factory=list)  # whether each write holds in the chain


class JournalView:
    """The part of one fleet's journal that says where the fleet stands.

    Attributes:
        cursor: where the next read starts (the journal's own token; None: not loaded).
        lines_read: every write this view has been handed (a measure of its cost).
    """

    def __init__(self, journal: Journal | None, fleet: str, *, recent: int = RECENT) -> None:
        self.journal = journal
        self.fleet = fleet
        self.recent_size = recent
        self.cursor: str | None = None
        self.lines_read = 0
        self._kept: dict[str, _Kept] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._open: set[str] = set()  # started or interrupted, nothing finished it since
        self._rollout: dict[str, None] = {}  # the latest rollout's start, what bears on it
        self._start = ""
        self._hand_since_event = False  # a by-hand action kept since the rollout's last record
        self._drift: set[str] = set()  # verify records that found drift
        #: an open record a later one finished -> that later one, kept while the finished
        #: record is (the rollout may keep it): without it, it would read as interrupted
        self._finisher: dict[str, str] = {}
        self._marker: object = None
        self._quiet = 0
        self._reading = asyncio.Lock()  # one read at a time: a cursor moves once
        self._prev: str | None = None  # the hash of the last line that held (None: none)
        self._broken = False  # the chain broke: every line from there on is unverified

    # reading ---------------------------------------------------------------------------
    async def refresh(self, *, marker: object = None, force: bool = False) -> int:
        """Read what was written since the last refresh; returns how many writes.

        A journal whose reads cost (CloudWatch Logs) is read only when ``marker`` — what
        the caller saw of the fleet (lock holders, weights) — changed, when ``force``,
        or every :data:`QUIET_LOOKS` looks: every write happens under the fleet lock,
        so a change the marker missed is a short one, caught by the next quiet read."""
        assert self.journal is not None, "a view fed by hand is not refreshed"
        async with self._reading:
            if self.cursor is None:
                lines, cursor, state = await self.journal.summary_state(self.fleet)
                self._marker, self._quiet, self.cursor = marker, 0, cursor
                return self.feed(lines) if state is None else self.seed(lines, state)
            else:
                if self.journal.reads_cost and not force:
                    self._quiet += 1
                    if marker == self._marker and self._quiet < QUIET_LOOKS:
                        return 0
                lines, cursor = await self.journal.after(self.fleet, self.cursor)
            self._marker, self._quiet, self.cursor = marker, 0, cursor
            return self.feed(lines)

    def stale(self) -> None:
        """Read at the next refresh whatever it costs (this Molt just wrote)."""
        self._marker = object()

    # folding ---------------------------------------------------------------------------
    def feed(self, lines: Iterable[str]) -> int:
        """Fold stored writes, oldest first, into the view — every write after the last
        one fed, so each is held against the chain; returns how many."""
        count = 0
        for line in lines:
            count += 1
            if line.strip():
                write, holds = self._verify(line)
                if write is not None and write.fleet == self.fleet:
                    self._take(write, line, holds)
        self.lines_read += count
        return count

    def seed(self, lines: Iterable[str], state: dict[str, Any]) -> int:
        """Fold the writes a summary handed over (only those its keeper's view kept, so
        not a chain): which did not hold, and where the chain stands after the last
        stored line, are as the keeper found them (its :meth:`state`)."""
        unverified = set(state.get("unverified") or ())
        count = 0
        for number, line in enumerate(lines):
            count += 1
            write = parse_line(line)
            if write is not None and write.fleet == self.fleet:
                self._take(write, line, number not in unverified)
        prev = state.get("prev")
        self._prev = prev if isinstance(prev, str) else None
        self._broken = bool(state.get("broken"))
        self.lines_read += count
        return count

    def state(self) -> dict[str, Any]:
        """What the view found of the chain, to hand over with :meth:`lines`: which of
        them did not hold (their places), the last hash that held, whether it broke."""
        kept = sorted(self._kept.values(), key=lambda k: k.shown.at)
        holds = [h for k in kept for h in k.holds]
        return {
            "unverified": [n for n, h in enumerate(holds) if not h],
            "prev": self._prev,
            "broken": self._broken,
        }

    def _verify(self, line: str) -> tuple[JournalRecord | None, bool]:
        """A stored line's write, and whether it holds in the chain: as
        :func:`~backends.core.chain.walk` decides, one line at a time. A third write of an
        action is caught while the view keeps the action (it keeps every open one)."""
        if self._broken:
            return parse_line(line), False
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            self._broken = True
            return None, False
        write = _from_data(data)
        found = hash_of(line)
        if not found and self._prev is None:
            return write, False  # before the first sealed line: unhashed
        kept = self._kept.get(str(data.get("id")))
        if (
            not found
            or digest(unsealed(line)) != found
            or data.get("prev") != (GENESIS if self._prev is None else self._prev)
            or (kept is not None and sum(kept.holds) >= 2)
        ):
            self._broken = True
            return write, False
        self._prev = found
        return write, True

    def _take(self, write: JournalRecord, line: str, holds: bool = True) -> None:
        """Fold one write in: for display every write (one that does not hold marks the
        record unverified, as :func:`~backends.core.journal.fold` does); for where the fleet
        stands only the writes the chain proves."""
        marked = write if holds else replace(write, unverified=True)
        kept = self._kept.get(write.id)
        if kept is None:
            kept = self._kept[write.id] = _Kept(write if holds else None, marked, [line], [holds])
            self._recent[write.id] = None
            if holds:
                self._place(write)
        else:
            kept.lines.append(line)
            kept.holds.append(holds)
            kept.shown = fold_write(kept.shown, marked)
            if holds and kept.record is not None:
                kept.record = fold_write(kept.record, write)
        record = kept.record
        if record is None:  # not proven real: shown, marked; it decides nothing
            self._trim()
            return
        if record.outcome in (Outcome.STARTED, Outcome.INTERRUPTED):
            self._open.add(record.id)
        elif record.id in self._open:
            self._open.discard(record.id)
            self._release(record.id)
        if record.outcome is Outcome.OK:
            if (
                record.action in BY_HAND
                and record.id in self._rollout
                and (record.args.get("rollout") != self._start)
            ):
                self._hand_since_event = True  # by hand: it paused the rollout
            for ident in [i for i in self._open if i != record.id and self._finished(i, record)]:
                self._open.discard(ident)
                self._finisher[ident] = record.id
                self._release(ident)
        self._trim()

    def _trim(self) -> None:
        while len(self._recent) > self.recent_size:
            ident, _ = self._recent.popitem(last=False)
            self._release(ident)

    def _finished(self, cut: str, later: JournalRecord) -> bool:
        record = self._kept[cut].record
        return record is not None and record.at <= later.at and finishes(later, record)

    def _place(self, record: JournalRecord) -> None:
        """Which parts of the view a new record belongs to (decided at its first write:
        its outcome may change, what it is does not)."""
        self._recent[record.id] = None
        if record.action == "rollout" and record.args.get("event") == "start":
            before, self._rollout = self._rollout, {record.id: None}
            self._start, self._hand_since_event = record.id, False
            for ident in before:
                self._release(ident)
        elif self._rollout and record.args.get("rollout") == self._start:
            self._rollout[record.id] = None
            self._hand_since_event = False
        elif self._rollout and record.action in BY_HAND and not self._hand_since_event:
            # one by-hand action pauses a running rollout; more change nothing until the
            # rollout's next record (a resume) — one that failed keeps the door open
            self._rollout[record.id] = None
        if record.action == "verify" and record.args.get("drift"):
            self._drift.add(record.id)

    def _release(self, ident: str) -> None:
        """Forget a record no part of the view needs any more."""
        needed = (
            ident in self._recent
            or ident in self._open
            or ident in self._drift
            or ident in self._rollout
            or ident in self._finisher.values()  # small: finished records still kept
        )
        if not needed:
            self._kept.pop(ident, None)
            finisher = self._finisher.pop(ident, None)
            if finisher is not None:
                self._release(finisher)

    # what readers get ------------------------------------------------------------------
    def records(self) -> list[JournalRecord]:
        """The records that say where the fleet stands, oldest first: give them to
        :func:`~backends.core.rollout.rollout_state`, :func:`~backends.core.interrupted.interrupted`
        and :func:`~backends.core.taint.taints` as they would take the whole journal's
        writes that hold in the chain (one that does not is not proven real: it decides
        nothing)."""
        proven = (k.record for k in self._kept.values() if k.record is not None)
        return sorted(proven, key=lambda r: r.at)

    def recent(self, count: int | None = None) -> list[JournalRecord]:
        """The last ``count`` actions (all those kept for display by default), those
        not proven by the chain marked ``unverified``."""
        shown = [self._kept[i].shown for i in self._recent if i in self._kept]
        shown.sort(key=lambda r: r.at)
        return shown[-count:] if count else shown

    def lines(self) -> list[str]:
        """The stored writes of what the view keeps, in stored order (the agent answers
        :meth:`~backends.core.journal.Journal.summary` with them)."""
        kept = sorted(self._kept.values(), key=lambda k: k.shown.at)
        return [line for k in kept for line in k.lines]

    def __len__(self) -> int:
        return len(self._kept)


def _from_data(data: dict[str, Any]) -> JournalRecord | None:
    try:
        return JournalRecord.from_json(data)
    except (ValueError, KeyError, TypeError):
        return None
