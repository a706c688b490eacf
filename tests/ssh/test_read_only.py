"""A look never writes, on the SSH rig: a weight set by hand on HAProxy's admin socket
during an incident stays as the engineer set it while a colleague "only looks" — with
the CLI, the driver's watch, or the TUI, read-only or not; the difference is reported
naming ``molt apply``, which puts the desired state back (locked, journaled, refused
read-only)."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.config.loading import load_config
from backends.core.events import DifferenceFound
from tests.ssh.processes import missing_parts
from tests.tui.conftest import ready, text_of, until
from tui.app import MoltApp
from tui.widgets.event_log import EventLog
from tui.widgets.status import StatusLine

pytestmark = pytest.mark.slow


def hand_weight(fleet, server: str, weight: int) -> None:
    assert fleet.proxy.command(f"set server {fleet.name}/{server} weight {weight}").strip() == ""


def weight_of(fleet, server: str) -> str:
    rows = fleet.proxy.command(f"show stat {fleet.name} 4 -1").splitlines()
    header = rows[0].lstrip("# ").split(",")
    row = next(r.split(",") for r in rows[1:] if r.split(",")[1] == server)
    return row[header.index("weight")]


async def weight_stays(fleet, server: str, weight: str, seconds: float = 10) -> None:
    """Check every half second for ``seconds`` that ``server`` keeps ``weight``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(0.5)
        assert weight_of(fleet, server) == weight


@pytest.fixture
def live_fleet(make_fleet):
    if why := missing_parts():
        pytest.skip(why)
    fleet = make_fleet(hosts=None, count=1)
    fleet.ok("launch", fleet.name, "--version", "v1", "--wait")
    fleet.ok("promote", fleet.name, "g1")
    return fleet


def test_a_status_reports_a_hand_set_weight_and_leaves_it_until_molt_apply(live_fleet):
    fleet = live_fleet
    server = fleet.generation("g1")["instances"][0]["id"]
    hand_weight(fleet, server, 1)
    for read_only in (["--read-only"], []):
        looked = fleet.molt(*read_only, "status", fleet.name)
        assert looked.returncode == 0, looked.stderr
        assert "! HAProxy differs from the desired state" in looked.stdout
        assert f"`molt apply {fleet.name}` puts it back" in looked.stdout
        assert weight_of(fleet, server) == "1"
    fleet.ok("verify", fleet.name)
    assert weight_of(fleet, server) == "1"
    refused = fleet.molt("--read-only", "apply", fleet.name)
    assert refused.returncode == 1 and "read-only mode" in refused.stderr
    assert weight_of(fleet, server) == "1"
    assert "set the weights of 1 HAProxy servers back" in fleet.ok("apply", fleet.name)
    assert weight_of(fleet, server) != "1"
    assert "nothing to apply" in fleet.ok("apply", fleet.name)
    history = fleet.ok("history", fleet.name)
    assert len([line for line in history.splitlines() if " apply" in line]) == 1
    assert fleet.status()["differences"] == []


@pytest.mark.parametrize("read_only", [True, False])
async def test_watching_for_ten_seconds_changes_no_weight(live_fleet, read_only):
    from backends.ssh.driver import SshBackend

    fleet = live_fleet
    server = fleet.generation("g1")["instances"][0]["id"]
    hand_weight(fleet, server, 1)
    viewer = SshBackend(
        fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir, read_only=read_only
    )
    seen: list = []

    async def watch() -> None:
        async for event in viewer.watch():
            seen.append(event)

    watcher = asyncio.create_task(watch())
    await weight_stays(fleet, server, "1")
    watcher.cancel()
    await viewer.close()
    differences = [e for e in seen if isinstance(e, DifferenceFound)]
    assert len(differences) == 1  # said once, not every read
    assert f"{server} 1 (desired" in differences[0].what
    assert f"`molt apply {fleet.name}`" in differences[0].what


async def test_the_read_only_tui_shows_a_hand_set_weight_for_ten_seconds_and_leaves_it(
    live_fleet,
):
    fleet = live_fleet
    server = fleet.generation("g1")["instances"][0]["id"]
    hand_weight(fleet, server, 1)
    config = load_config(str(fleet.config)).fleet(fleet.name)
    app = MoltApp([config], state_dir=fleet.state_dir, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        status = screen.query_one(StatusLine)
        said = f"{server} 1 (desired"
        await until(pilot, lambda: said in text_of(status), timeout=15)
        log = screen.query_one(EventLog)
        await until(pilot, lambda: any(said in e.text() for e in log.visible_events))
        await weight_stays(fleet, server, "1")  # watching, as a colleague would
        assert said in text_of(status)  # still shown
    assert weight_of(fleet, server) == "1"
