"""The ssh backend's rig: real sshd hosts on 127.0.0.x (shared by the session), and per
test a fresh fleet (its own name, so its own directories) behind a fresh HAProxy."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.ssh.driver import SshBackend
from tests.backends.harness import Harness
from tests.ssh.lb import HaproxyProcess
from tests.ssh.processes import missing_parts
from tests.ssh.rig import Rig, shared_rig


def fingerprint(rig: Rig, fleet: str, proxy: HaproxyProcess) -> object:
    """Every file of the fleet on every host (the LB host's state and journal included)
    with its size, mode and inode (a file rewritten is a new one), and HAProxy's servers
    with their weights and admin state."""
    files = sorted(
        (str(path), path.stat().st_size, path.stat().st_mode, path.stat().st_ino)
        for directory in rig.fleet_dirs(fleet)
        for path in directory.rglob("*")
        if not path.is_symlink() and "logs" not in path.parts
    )
    rows = proxy.command(f"show stat {proxy.name} 4 -1").splitlines()
    header = rows[0].lstrip("# ").split(",")
    wanted = [header.index(c) for c in ("svname", "weight", "status")]
    servers = sorted(tuple(r.split(",")[i] for i in wanted) for r in rows[1:] if r.strip())
    return files, [(name, weight, status.split()[0]) for name, weight, status in servers]


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    if why := missing_parts():
        pytest.skip(why)
    rig = shared_rig()
    name = rig.fresh_name("contract")
    proxy = rig.haproxy(name)
    hosts = [h.spec for h in rig.hosts[:2]]
    settings = rig.settings(hosts, rig.hosts[0], proxy, drain_timeout=2.0)
    opened: list[SshBackend] = []

    def reopen(read_only: bool) -> SshBackend:
        backend = SshBackend(
            rig.fleet(name, settings), Path(tempfile.gettempdir()), read_only=read_only
        )
        opened.append(backend)
        return backend

    async def look() -> object:
        return await asyncio.to_thread(fingerprint, rig, name, proxy)

    async def drain(generation: str) -> None:
        async with opened[0].store.update() as state:
            record = state.generation(generation)
            assert record is not None
            record.lifecycle = "draining"

    backend = reopen(False)
    try:
        yield Harness(backend, name, reopen, look, drain, count=2)
    finally:
        for each in opened:
            await each.close()
        rig.kill_instances(name)
        proxy.stop()
        rig.remove_fleet(name)
