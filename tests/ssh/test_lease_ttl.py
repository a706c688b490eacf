"""The SSH fleet lock is a lease with a TTL: a Molt that stops without dying (SIGSTOP)
keeps its SSH connection, and with it the ``flock`` on the LB host, but loses the lock
once its TTL has passed; another Molt takes it, and the woken-up holder's renewal is
refused naming the new holder. A Molt that dies frees the lock at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess

import pytest

from backends.core.locking import ROLLOUT_LOCK, Lease, Locked
from backends.ssh.driver import SshBackend
from tests.support import lease_holder
from tests.support.lease_holder import next_line, until_free

pytestmark = pytest.mark.slow
TTL = 3.0


def start_holder(fleet, lock: str) -> subprocess.Popen[str]:
    """A Molt holding ``lock``, as far as the lock goes."""
    args = (str(fleet.config), fleet.name, str(fleet.state_dir), lock, str(TTL))
    return lease_holder.start("ssh", *args, env={"PYTHONWARNINGS": "ignore"})


def stop(holder: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
    holder.wait(10)


async def test_a_frozen_holder_loses_its_lease_after_the_ttl_and_its_renewal_is_refused(
    make_fleet,
):
    fleet = make_fleet(count=1)
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir)
    holder = start_holder(fleet, ROLLOUT_LOCK)
    try:
        token = (await next_line(holder))["held"]
        for _ in range(4):  # renewing, it keeps the lease well past one TTL
            assert "renewed" in await next_line(holder)
        held = await backend.lock_holder(ROLLOUT_LOCK)
        assert held is not None and held.token == token and held.holder == "alice"
        with pytest.raises(Locked) as refused:
            await backend.acquire(Lease.new("bob", "rollout g3", "r2", lock=ROLLOUT_LOCK))
        assert "driven by alice" in refused.value.message

        os.kill(holder.pid, signal.SIGSTOP)  # the lid shuts: alive, connected, silent
        # free once the TTL has passed — not hours later, as when the flock alone held it
        # until TCP noticed (sshd's defaults); the slack is for reading it over SSH on a
        # busy machine (a bound of TTL + 3 s failed at load 6)
        await until_free(backend, ROLLOUT_LOCK, timeout=TTL + 20)
        assert holder.poll() is None
        bob = await backend.acquire(Lease.new("bob", "rollout g3", "r2", lock=ROLLOUT_LOCK))

        os.kill(holder.pid, signal.SIGCONT)  # the lid opens
        said = await next_line(holder)
        while "renewed" in said:  # a renewal answered just before the stop
            said = await next_line(holder)
        assert said["holder"] == "bob", said
        assert f"this Molt lost the rollout lock of fleet {fleet.name}" in said["lost"]
        await asyncio.to_thread(holder.wait, 10)

        held = await backend.lock_holder(ROLLOUT_LOCK)  # the woken holder disturbed nothing
        assert held is not None and held.token == bob.token
        bob = await backend.renew(bob)
        await backend.release(bob)
        assert await backend.lock_holder(ROLLOUT_LOCK) is None
    finally:
        stop(holder)
        await backend.close()


async def test_a_killed_holder_frees_the_fleet_lock_at_once(make_fleet):
    fleet = make_fleet(count=1)
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir)
    holder = start_holder(fleet, "fleet")
    try:
        await next_line(holder)
        assert (await backend.lock_holder()).holder == "alice"
        holder.kill()
        await until_free(backend, "fleet", timeout=TTL - 1)  # not the TTL: the connection
        lease = await backend.acquire(Lease.new("bob", "retire g1", "r2", ttl=1.0))
        await asyncio.sleep(1.3)  # not renewed: expired, though its session still runs
        assert await backend.lock_holder() is None
        with pytest.raises(Locked) as lost:  # nobody took it; still it is not bob's
            await backend.renew(lease)
        assert lost.value.lost is not None
        await backend.release(lease)
        assert await backend.lock_holder() is None
        fleet.ok("launch", fleet.name, "--version", "v1", "--wait")  # the CLI takes it too
    finally:
        stop(holder)
        await backend.close()
