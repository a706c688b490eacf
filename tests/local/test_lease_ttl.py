"""A lease on the local backend ends after its TTL when its holder stops without dying:
a real Molt process holding the rollout lock is frozen (SIGSTOP), another session takes
the lock once the TTL has passed, and the woken-up holder's renewal is refused naming
the new holder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from backends.core.locking import ROLLOUT_LOCK, Lease, Locked
from backends.local.driver import LocalBackend
from tests.support import lease_holder
from tests.support.lease_holder import next_line, until_free
from tests.support.local import local_fleet, state_dir_env

pytestmark = pytest.mark.slow
TTL = 2.0


def fleet_for(listen: str):
    return local_fleet("ttl", count=1, listen=listen)


def start_holder(state_dir: Path, listen: str) -> subprocess.Popen[str]:
    """A Molt driving a rollout, as far as the rollout lock goes."""
    args = (str(state_dir), listen, ROLLOUT_LOCK, str(TTL))
    return lease_holder.start("local", *args, env={"MOLT_STATE_DIR": str(state_dir)})


async def test_a_frozen_holder_loses_its_lease_after_the_ttl_and_its_renewal_is_refused():
    listen = local_fleet().settings.listen
    with state_dir_env() as state_dir:
        backend = LocalBackend(fleet_for(listen), state_dir)
        holder = start_holder(state_dir, listen)
        try:
            token = (await next_line(holder))["public"]  # as others see it
            # renewing, it keeps the lease well past one TTL
            for _ in range(int(2 * TTL / (TTL / 3)) + 1):
                assert "renewed" in await next_line(holder)
            held = await backend.lock_holder(ROLLOUT_LOCK)
            assert held is not None and held.token == token and held.holder == "alice"
            with pytest.raises(Locked) as refused:
                await backend.acquire(Lease.new("bob", "rollout g3", "r2", lock=ROLLOUT_LOCK))
            assert "driven by alice" in refused.value.message

            os.kill(holder.pid, signal.SIGSTOP)  # the laptop lid shuts: alive, connected, silent
            waited = await until_free(backend, ROLLOUT_LOCK, timeout=TTL + 3)
            assert waited <= TTL + 1
            assert holder.poll() is None  # still there, still connected
            bob = await backend.acquire(Lease.new("bob", "rollout g3", "r2", lock=ROLLOUT_LOCK))

            os.kill(holder.pid, signal.SIGCONT)  # the lid opens
            said = await next_line(holder)
            while "renewed" in said:  # a renewal answered just before the stop
                said = await next_line(holder)
            assert said["holder"] == "bob", said
            assert "this Molt lost the rollout lock of fleet ttl" in said["lost"]
            assert "held by bob" in said["lost"]
            await asyncio.to_thread(holder.wait, 10)

            # the woken holder disturbed nothing: bob holds the lock until he lets go
            held = await backend.lock_holder(ROLLOUT_LOCK)
            assert held is not None and bob.same(held)
            await backend.release(bob)
            assert await backend.lock_holder(ROLLOUT_LOCK) is None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder.pid, signal.SIGKILL)
            holder.wait(10)
            await backend.close()


async def test_an_expired_lease_is_free_renewal_refused_and_a_closed_holder_frees_at_once():
    listen = local_fleet().settings.listen
    with state_dir_env() as state_dir:
        alice_side = LocalBackend(fleet_for(listen), state_dir)
        bob_side = LocalBackend(fleet_for(listen), state_dir)
        try:
            alice = await alice_side.acquire(
                Lease.new("alice", "rollout g2", "r1", ttl=1.0, lock=ROLLOUT_LOCK)
            )
            alice = await alice_side.renew(alice)  # a renewal pushes the expiry on
            assert alice.expires > alice.since
            await asyncio.sleep(1.3)  # no renewal: expired, though the connection is open
            assert await bob_side.lock_holder(ROLLOUT_LOCK) is None
            with pytest.raises(Locked) as lost:  # nobody took it, still it is gone
                await alice_side.renew(alice)
            assert lost.value.lost is not None and lost.value.holder is None

            bob = await bob_side.acquire(
                Lease.new("bob", "rollout g3", "r2", ttl=30, lock=ROLLOUT_LOCK)
            )
            with pytest.raises(Locked):
                await alice_side.renew(alice)
            bob = await bob_side.renew(bob)
            await bob_side.close()  # bob's Molt goes away: the lock is free at once
            assert await alice_side.lock_holder(ROLLOUT_LOCK) is None
            again = await alice_side.acquire(Lease.new("alice", "rollout g2", "r3"))
            assert again.same(await bob_side.lock_holder())
            await alice_side.release(again)
            assert await bob_side.lock_holder() is None
        finally:
            await alice_side.close()
            await bob_side.close()
