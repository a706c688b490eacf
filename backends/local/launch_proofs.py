"""What a local fleet's journal proves about each generation's launch: read whole once
(its writes hashed on a worker thread, the proxy keeps serving), then fed as the agent
stores writes, so a verify never reads the journal again."""

from __future__ import annotations

import asyncio
import itertools

from backends.core.proofs import Launches, LaunchProof
from backends.local.store import Store

READ_SLICE = 2000  # journal writes hashed per turn on a worker thread


class JournaledLaunches:
    """Each generation's launch as the journal proves it, read once (off the loop) and
    then fed as the agent stores writes (see :meth:`journaled`)."""

    def __init__(self, fleet: str, store: Store) -> None:
        self.fleet = fleet
        self.store = store
        self._launches: Launches | None = None
        self._seq = 0
        self._reading: asyncio.Future[None] | None = None

    def journaled(self, line: str, seq: int) -> None:
        """The agent stored ``line`` (sequence number ``seq``) on this fleet's journal."""
        if self._launches is not None and seq > self._seq:
            self._launches.feed((line,))
            self._seq = seq

    async def proof(self, generation_id: str) -> LaunchProof:
        """What the journal proves about the generation's launch. The journal is read
        whole once, its writes hashed on a worker thread (the proxy keeps serving), then
        kept up to date by :meth:`journaled`: a verify never reads it again."""
        if self._launches is None:
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read())
            await asyncio.shield(self._reading)
        assert self._launches is not None
        return self._launches.proof(generation_id)

    async def _read(self) -> None:
        launches, seq = Launches(self.fleet), None  # from the first row, wherever it is
        try:
            while True:
                rows = list(itertools.islice(self.store.journal_after(self.fleet, seq), READ_SLICE))
                if not rows:  # read to the end with no wait since: later writes are fed
                    self._launches, self._seq = launches, seq or 0
                    return
                seq = rows[-1][0]
                await asyncio.to_thread(launches.feed, [line for _, line in rows])
        finally:
            self._reading = None
