"""Immutability of a local fleet: what each generation was launched from (the manifest
frozen with its tree), what the journal proves about its launch, and the drift between
those and the tree as it is now."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import TYPE_CHECKING, Any

from backends.core.manifest import MANIFEST_NAME
from backends.core.model import DriftReport
from backends.core.proofs import Launches, LaunchProof
from backends.local.store import Store
from backends.local.trees import tree_drift

if TYPE_CHECKING:
    from backends.local.runtime import FleetRuntime

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


async def frozen(fleet: FleetRuntime, generation_id: str) -> dict[str, Any]:
    """The manifest written when the generation's tree was frozen (kept in its home
    while the generation lives)."""
    fleet.generation(generation_id)
    path = fleet.home / generation_id / MANIFEST_NAME
    text = await asyncio.to_thread(path.read_text) if path.exists() else "null"
    return {"manifest": json.loads(text)}


async def verify(fleet: FleetRuntime, generation_id: str) -> DriftReport:
    generation = fleet.generation(generation_id)  # NotFound: unknown or retired
    proof = await fleet.launches.proof(generation_id)
    drift = await asyncio.to_thread(
        tree_drift,
        fleet.home / generation_id,
        proof.journaled,
        generation.row.digest,
        doubtful=proof.doubtful,
    )
    return DriftReport(
        fleet=fleet.name,
        generation=generation_id,
        checked=("local",),
        drift=tuple(drift),
    )
