"""A Molt holding one of a fleet's locks, as far as the lock goes, in a process of its
own so a test can freeze it (SIGSTOP) or kill it: it takes the lock and renews it every
third of its TTL, printing one JSON line per step, until it loses it.

Run as ``python -m tests.support.lease_holder local STATE_DIR LISTEN LOCK TTL`` (the
``ttl`` fleet of :func:`tests.support.local.local_fleet`) or
``… ssh CONFIG FLEET STATE_DIR LOCK TTL`` (a fleet of a molt.toml); :func:`start` does.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from backends.contract import Backend
from backends.core.locking import Lease, Locked
from tests.support.local import REPO
from tests.support.waiting import until


def start(driver: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The holder, started for ``driver`` with its arguments (see the module's doc)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.lease_holder", driver, *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def next_line(process: subprocess.Popen[str], timeout: float = 20.0) -> dict:
    """The holder's next step: ``held`` (with the lease's token as the holder and as
    others see it), ``renewed``, or ``lost`` naming who holds the lock now."""
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
    assert line, f"the holder ended: {process.stderr.read() if process.stderr else ''}"
    found: dict = json.loads(line)
    return found


async def until_free(backend: Backend, lock: str, timeout: float) -> float:
    """Seconds until nobody holds ``lock``."""
    started = time.monotonic()
    await until(
        lambda: backend.lock_holder(lock), _free, timeout=timeout, every=0.1, what="a free lock"
    )
    return time.monotonic() - started


def _free(holder: Lease | None) -> bool:
    return holder is None


async def hold(backend: Backend, lock: str, ttl: float) -> None:
    lease = await backend.acquire(Lease.new("alice", "rollout g2", "r1", ttl=ttl, lock=lock))
    print(json.dumps({"held": lease.token, "public": lease.public().token}), flush=True)
    try:
        while True:
            await asyncio.sleep(ttl / 3)  # the holder's own pace, as a rollout renews
            try:
                lease = await backend.renew(lease)
            except Locked as lost:
                holder = lost.holder.holder if lost.holder else None
                print(json.dumps({"lost": lost.message, "holder": holder}), flush=True)
                return
            print(json.dumps({"renewed": lease.expires.isoformat()}), flush=True)
    finally:
        await backend.close()


def _open(driver: str, args: list[str]) -> tuple[Backend, str, float]:
    if driver == "local":
        from backends.local.driver import LocalBackend
        from tests.support.local import local_fleet

        state_dir, listen, lock, ttl = args
        fleet = local_fleet("ttl", count=1, listen=listen)
        return LocalBackend(fleet, Path(state_dir)), lock, float(ttl)
    from backends.config.loading import load_config
    from backends.ssh.driver import SshBackend

    config, fleet_name, state_dir, lock, ttl = args
    backend = SshBackend(load_config(config).fleets[fleet_name], Path(state_dir))
    return backend, lock, float(ttl)


if __name__ == "__main__":
    asyncio.run(hold(*_open(sys.argv[1], sys.argv[2:])))
