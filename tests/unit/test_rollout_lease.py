"""The rollout driver acts on its lease as last renewed: a backend that judged expiry by
the copy it is handed (as the SSH one once did) must not find the lease lost once its
TTL has passed since it was taken."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from backends.core.locking import ROLLOUT_LOCK, Lease, Locked
from backends.engine.rollout_steps import Held, still_ours

TTL = 0.3


class CopyJudging:
    """Renews by the caller's copy: refused once that copy has expired."""

    lease_ttl = TTL

    def __init__(self) -> None:
        self.held: Lease | None = None
        self.renewals = 0

    async def renew(self, lease: Lease) -> Lease:
        if lease.expired:
            raise Locked("web", None, lease.lock, lost=lease)
        self.held = lease.renewed()
        self.renewals += 1
        return self.held

    async def lock_holder(self, lock: str) -> Lease | None:
        return self.held


async def test_a_lease_renewed_past_its_first_expiry_is_still_ours() -> None:
    backend = CopyJudging()
    session: Any = SimpleNamespace(backend=backend)
    taken = Lease.new("alice", "rollout g2", "r1", ttl=TTL, lock=ROLLOUT_LOCK)
    backend.held = taken
    held = Held(session, taken)
    try:
        await asyncio.sleep(TTL * 2.5)  # the lease as taken has expired; renewed, it has not
        assert taken.expired and backend.renewals >= 2 and not held.lost.done()
        await still_ours(session, held)  # no LeaseLost
        assert held.lease.token == taken.token and not held.lease.expired
    finally:
        held.stop()
