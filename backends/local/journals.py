"""The fleets' journals as the agent keeps them: each write sealed onto its fleet's
chain and stored (one process, one writer: the chain cannot fork), its head anchored
outside the store, and a view of where each journal stands kept up to date as writes
are stored, so a fresh ``molt status`` reads a few hundred writes, not them all."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from backends.core import chain
from backends.core.journal import JournalRecord
from backends.core.journal_view import JournalView
from backends.local.heads import Heads
from backends.local.store import Store

VIEW_SLICE = 2000  # journal writes read between two turns of the event loop


class Journals:
    """Every fleet's journal in one agent's store."""

    def __init__(self, store: Store, heads: Heads) -> None:
        self.store = store
        self.heads = heads
        #: fleet → where its journal stands, and the sequence number of its last write
        self.views: dict[str, tuple[JournalView, int]] = {}
        self._building: dict[str, asyncio.Future[None]] = {}

    def write(self, record: JournalRecord) -> tuple[str, int]:
        """Seal and store ``record``; the line stored and its sequence number."""
        last = self.store.last_journal_line(record.fleet)
        line = chain.seal(record.to_json(), chain.hash_of(last))
        seq = self.store.append_journal(record.fleet, line)
        stored = 0 if self.heads.get(record.fleet) else self.store.journal_count(record.fleet)
        self.heads.advance(record.fleet, line, stored, before=chain.hash_of(last))
        if record.fleet in self.views:
            self.views[record.fleet][0].feed((line,))
            self.views[record.fleet] = (self.views[record.fleet][0], seq)
        return line, seq

    def after(self, fleet: str, cursor: str) -> dict[str, Any]:
        """The writes after a cursor (a sequence number): what a poll reads."""
        last = int(cursor) if cursor.isdigit() else 0
        lines = []
        for seq, line in self.store.journal_after(fleet, last):
            lines.append(line)
            last = seq
        return {"lines": lines, "cursor": str(last)}

    async def summary(self, fleet: str) -> dict[str, Any]:
        """What a reader needs to know where the fleet stands."""
        if fleet not in self.views:
            await self._build_view(fleet)
        view, seq = self.views[fleet]
        return {"lines": view.lines(), "cursor": str(seq), "chain": view.state()}

    async def _build_view(self, fleet: str) -> None:
        """Read the fleet's journal once, a slice at a time (the proxy keeps serving);
        writes stored meanwhile are read too, and then fed as they come."""
        building = self._building.get(fleet)
        if building is None:
            building = self._building[fleet] = asyncio.ensure_future(self._read_view(fleet))
        await asyncio.shield(building)

    async def _read_view(self, fleet: str) -> None:
        view, seq = JournalView(None, fleet), 0
        while True:
            lines = []
            rows = itertools.islice(self.store.journal_after(fleet, seq), VIEW_SLICE)
            for number, line in rows:
                lines.append(line)
                seq = number
            view.feed(lines)
            if len(lines) < VIEW_SLICE:
                break
            await asyncio.sleep(0)
        self.views[fleet] = (view, seq)
        self._building.pop(fleet, None)

    def head(self, fleet: str) -> dict[str, Any] | None:
        """The head the agent anchored (kept outside the store), or None."""
        anchor = self.heads.get(fleet)
        return anchor.to_json() if anchor else None
