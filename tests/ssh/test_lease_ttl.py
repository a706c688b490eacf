"""A lease on the ssh backend (real sshd, real LB host files) ends after its TTL even
while its holder's SSH session stays open — a Molt stopped without dying — and the old
holder's renewal is then refused naming the new holder. A holder whose session ends
still frees the lock at once, and two Molts racing for it get one lease."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.locking import FLEET_LOCK, ROLLOUT_LOCK, Lease, Locked
from tests.backends.harness_ssh import make_harness

pytestmark = pytest.mark.slow
TTL = 2.0


def rollout_lease(who: str, ttl: float = TTL) -> Lease:
    return Lease.new(who, f"rollout by {who}", f"r-{who}", ttl=ttl, lock=ROLLOUT_LOCK)


async def until_free(backend, lock: str, timeout: float) -> float:
    started = time.monotonic()
    while await backend.lock_holder(lock) is not None:
        assert time.monotonic() - started < timeout, "the lease never ended"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_a_lease_not_renewed_expires_while_its_session_stays_open():
    async with make_harness() as rig:
        alice_side, bob_side = rig.backend, rig.reopen(False)
        alice = await alice_side.acquire(rollout_lease("alice"))
        for _ in range(6):  # renewed, it outlives its TTL
            await asyncio.sleep(TTL / 3)
            alice = await alice_side.renew(alice)
        held = await bob_side.lock_holder(ROLLOUT_LOCK)
        assert held is not None and held.token == alice.token
        with pytest.raises(Locked) as refused:
            await bob_side.acquire(rollout_lease("bob"))
        assert "driven by alice" in refused.value.message

        # alice stops renewing (her Molt is stopped); her SSH session stays open
        waited = await until_free(bob_side, ROLLOUT_LOCK, timeout=TTL + 4)
        assert waited <= TTL + 1.5
        assert await bob_side.lock_holder(FLEET_LOCK) is None
        bob = await bob_side.acquire(rollout_lease("bob", ttl=30))

        with pytest.raises(Locked) as lost:  # alice wakes up: she must not act
            await alice_side.renew(alice)
        assert lost.value.lost is not None and lost.value.lost.token == alice.token
        assert lost.value.holder is not None and lost.value.holder.token == bob.token
        assert "this Molt lost the rollout lock" in lost.value.message
        assert "held by bob" in lost.value.message

        held = await alice_side.lock_holder(ROLLOUT_LOCK)
        assert held is not None and held.token == bob.token  # alice disturbed nothing
        bob = await bob_side.renew(bob)
        await bob_side.release(bob)
        assert await alice_side.lock_holder(ROLLOUT_LOCK) is None


async def test_renewing_an_expired_lease_nobody_took_is_refused_and_the_lock_is_free():
    async with make_harness() as rig:
        alice = await rig.backend.acquire(rollout_lease("alice", ttl=1))
        await asyncio.sleep(2.5)  # whole seconds on the LB host's clock: up to one more
        with pytest.raises(Locked) as lost:
            await rig.backend.renew(alice)
        assert lost.value.lost is not None and lost.value.holder is None
        assert await rig.backend.lock_holder(ROLLOUT_LOCK) is None
        again = await rig.reopen(False).acquire(rollout_lease("bob"))
        held = await rig.backend.lock_holder(ROLLOUT_LOCK)
        assert held is not None and held.token == again.token


async def test_a_holder_whose_session_ends_frees_the_lock_at_once_and_racers_get_one_lease():
    async with make_harness() as rig:
        alice_side, bob_side, carol_side = rig.backend, rig.reopen(False), rig.reopen(False)
        await alice_side.acquire(Lease.new("alice", "retire g1", "r1", ttl=60))
        await alice_side.close()  # alice's Molt is gone: her connection drops
        waited = await until_free(bob_side, FLEET_LOCK, timeout=10)
        assert waited < 10

        leases = [Lease.new(who, f"launch by {who}", f"r-{who}") for who in ("bob", "carol")]
        results = await asyncio.gather(
            bob_side.acquire(leases[0]), carol_side.acquire(leases[1]), return_exceptions=True
        )
        won = [r for r in results if isinstance(r, Lease)]
        refused = [r for r in results if isinstance(r, Locked)]
        assert len(won) == 1 and len(refused) == 1, results
        assert refused[0].holder is not None and refused[0].holder.token == won[0].token
        held = await alice_side.lock_holder(FLEET_LOCK)
        assert held is not None and held.token == won[0].token
        winner = bob_side if won[0].holder == "bob" else carol_side
        await winner.release(won[0])
        assert await alice_side.lock_holder(FLEET_LOCK) is None
