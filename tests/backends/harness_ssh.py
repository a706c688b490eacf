"""The ssh backend's rig: real sshd hosts on 127.0.0.x (shared by the session), and per
test a fresh fleet (its own name, so its own directories) behind a fresh HAProxy."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.ssh.driver import SshBackend
from tests.backends.harness import Harness
from tests.ssh.processes import missing_parts
from tests.ssh.rig import shared_rig


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    if why := missing_parts():
        pytest.skip(why)
    rig = shared_rig()
    name = rig.fresh_name("contract")
    proxy = rig.haproxy(name)
    hosts = [h.spec for h in rig.hosts[:2]]
    settings = rig.settings(hosts, rig.hosts[0], proxy, drain_timeout=2.0)
    backend = SshBackend(rig.fleet(name, settings), Path(tempfile.gettempdir()))
    try:
        yield Harness(backend=backend, fleet=name, count=2)
    finally:
        await backend.close()
        rig.kill_instances(name)
        proxy.stop()
        rig.remove_fleet(name)
