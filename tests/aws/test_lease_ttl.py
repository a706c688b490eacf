"""A lease on the AWS backend (a tag on the listener, moto over HTTP) ends after its TTL
when its holder stops renewing: another Molt takes it over, and the old holder's
renewal is refused naming the new holder — it never brings the lapsed lease back."""

from __future__ import annotations

import asyncio

import pytest

from backends.aws.driver import AwsBackend
from backends.core.locking import ROLLOUT_LOCK, Lease, Locked
from tests.aws.support import aws_fleet
from tests.support.waiting import until

pytestmark = pytest.mark.slow
TTL = 3.0  # each take and renewal waits a second for the tag to settle


def rollout_lease(who: str, ttl: float = TTL) -> Lease:
    return Lease.new(who, f"rollout by {who}", f"r-{who}", ttl=ttl, lock=ROLLOUT_LOCK)


def nobody(holder: Lease | None) -> bool:
    return holder is None


@pytest.fixture
async def other(world, tmp_path):
    driver = AwsBackend(aws_fleet(world), tmp_path)
    yield driver
    await asyncio.wait_for(driver.close(), 10)


async def test_a_lease_not_renewed_is_taken_over_and_the_old_holder_cannot_renew(backend, other):
    alice = await backend.acquire(rollout_lease("alice"))
    alice = await backend.renew(alice)  # renewed by its own TTL
    assert 0 < (alice.expires - alice.since).total_seconds() < TTL + 3
    with pytest.raises(Locked) as refused:
        await other.acquire(rollout_lease("bob"))
    assert "driven by alice" in refused.value.message

    # alice stops renewing; once her lease has expired, nobody holds the lock
    await until(lambda: other.lock_holder(ROLLOUT_LOCK), nobody, timeout=TTL + 3, every=0.2)
    bob = await other.acquire(rollout_lease("bob", ttl=60))

    with pytest.raises(Locked) as lost:  # alice wakes up: she must not act
        await backend.renew(alice)
    assert lost.value.lost is not None and lost.value.lost.token == alice.token
    assert lost.value.holder is not None and lost.value.holder.token == bob.token
    assert "this Molt lost the rollout lock" in lost.value.message
    held = await backend.lock_holder(ROLLOUT_LOCK)
    assert held is not None and held.token == bob.token  # the tag is still bob's

    await backend.release(alice)  # not hers any more: nothing happens
    held = await backend.lock_holder(ROLLOUT_LOCK)
    assert held is not None and held.token == bob.token
    await other.release(bob)
    assert await backend.lock_holder(ROLLOUT_LOCK) is None


async def test_renewing_an_expired_lease_nobody_took_is_refused(backend):
    alice = await backend.acquire(rollout_lease("alice", ttl=1))
    # expiries are whole seconds, rounded up
    await until(lambda: backend.lock_holder(ROLLOUT_LOCK), nobody, timeout=5.0, every=0.2)
    with pytest.raises(Locked) as lost:
        await backend.renew(alice)
    assert lost.value.lost is not None and lost.value.holder is None
    assert await backend.lock_holder(ROLLOUT_LOCK) is None  # not brought back
