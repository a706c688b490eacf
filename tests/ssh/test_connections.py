"""One kept-open connection per host, re-opened when lost; handshakes bounded."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from backends.ssh.driver import SshBackend
from backends.ssh.settings import HostAddress
from tests.ssh.processes import TEST_ADDRESSES, descendants
from tests.support.waiting import until

pytestmark = pytest.mark.slow


async def test_every_operation_reuses_one_connection_per_host(make_fleet, tmp_path):
    fleet = make_fleet()
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), tmp_path)
    try:
        await backend.launch(_spec())
        for _ in range(5):
            await backend.snapshot()
        await backend.verify("g1")
        await backend.set_weights({"g1": 100})
        await backend.set_weights({"g1": 0})
        await backend.retire("g1")
        hosts = [HostAddress.parse(h) for h in fleet.settings.hosts]
        assert [backend.pool[h].connects for h in hosts] == [1, 1, 1]
    finally:
        await backend.close()


async def test_a_lost_connection_is_reopened(make_fleet, tmp_path):
    fleet = make_fleet()
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), tmp_path)
    try:
        await backend.snapshot()
        host = fleet.rig.hosts[1]
        for pid in descendants(host.process.pid):  # sshd's per-connection processes
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            reading = await backend.read()
            if not reading.host_failures and backend.pool[_address(host)].connects == 2:
                break
        assert backend.pool[_address(host)].connects == 2
        assert reading.host_failures == {}
    finally:
        await backend.close()


async def test_handshakes_in_flight_stay_under_sshd_max_startups(make_fleet, rig, tmp_path):
    hosts = rig.start_shared_sshd(TEST_ADDRESSES[20:35], max_startups=4)
    known = rig.write_known_hosts(tmp_path / "known_hosts", [*rig.hosts, *hosts])
    fleet = make_fleet()

    async def sweep(max_handshakes: int) -> dict[str, str]:
        settings = rig.settings([h.spec for h in hosts], rig.hosts[0], fleet.proxy,
                                known_hosts=known, max_handshakes=max_handshakes)
        backend = SshBackend(rig.fleet(fleet.name, settings), tmp_path)
        try:
            return (await backend.read()).host_failures
        finally:
            await backend.close()

    assert await sweep(max_handshakes=2) == {}
    assert len(await sweep(max_handshakes=20)) > 0  # unbounded, sshd drops some


def _address(host) -> HostAddress:
    return HostAddress.parse(host.spec)


def _spec():
    from backends.core.model import GenerationSpec

    return GenerationSpec(version="v1", launched_by="test")


async def test_watch_reports_a_reload_and_a_hung_host(make_fleet, tmp_path):
    from backends.engine.session import FleetSession

    fleet = make_fleet(connect_timeout=1.0)
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), tmp_path)
    messages: list[str] = []

    async def collect():
        async for event in backend.watch():
            messages.append(f"{event.kind.value}: {event.text()}")

    try:
        await backend.launch(_spec())
        await FleetSession.around(backend).wait_settled("g1", timeout=30)
        watcher = asyncio.create_task(collect())
        await until(lambda: any(m.startswith("snapshot") for m in messages), what="a first read")
        fleet.proxy.reload()
        fleet.rig.hosts[2].hang()
        hung = fleet.rig.hosts[2].address

        def both_said(text: str) -> bool:
            return "3 servers missing" in text and f"host {hung}:" in text

        text = await until(lambda: "\n".join(messages), both_said, every=0.1)
        watcher.cancel()
        assert (
            "difference: HAProxy differs from the desired state (3 servers missing); "
            f"`molt apply {fleet.name}` puts it back" in text
        )
        assert fleet.proxy.server_names() == []  # a look puts nothing back
        assert f"error: host {hung}: Unreachable: {hung}" in text and "hung" in text
    finally:
        fleet.rig.hosts[2].resume()
        await backend.close()
