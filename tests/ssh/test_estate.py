"""The estate on real parts of every kind: two local fleets, an SSH fleet on the rig (sshd +
HAProxy), an AWS fleet on moto's server, and an SSH fleet whose host refuses
connections — ``molt status`` (the real binary) shows them all, the dead one marked,
without waiting for it. And what an estate read costs: what ``molt status FLEET`` costs,
no more (SSH commands counted at the connection, AWS requests at botocore's
``before-send``, every retry included)."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace

import pytest

from backends.aws.driver import AwsBackend
from backends.config.loading import load_config
from backends.core.model import GenerationSpec
from backends.engine.estate import Estate
from backends.engine.session import FleetSession
from backends.engine.status import read_status
from backends.local.processes import free_port
from backends.ssh.connections import HostConnection
from tests.aws.faults import install
from tests.aws.support import (
    ScriptedTargetHealth,
    aws_fleet,
    fake_aws_env,
    make_world,
    molt_toml,
    moto_endpoint,
    reset_moto,
)
from tests.e2e.test_estate import local_toml
from tests.ssh.conftest import render_config
from tests.support.local import molt, stop_everything
from tests.tui.conftest import text_of, until
from tui.app import MoltApp
from tui.screens.estate import EstateScreen
from tui.widgets.estate_table import EstateTable

pytestmark = pytest.mark.slow

DEAD_TIMEOUT = 60.0  # the dead fleet's connect_timeout: the estate must not wait for it


@pytest.fixture
def world():
    with fake_aws_env():
        endpoint = moto_endpoint()
        reset_moto(endpoint)
        yield make_world(endpoint)


@pytest.fixture
def mixed_estate(make_fleet, world):
    """(molt.toml, state dir, the rig fleet's name): two local fleets, the rig's SSH fleet,
    a moto fleet — each with g1 launched — and an SSH fleet whose host refuses connections."""
    ssh = make_fleet(count=1)
    ssh.ok("launch", ssh.name, "--version", "v1", "--wait")
    ssh.ok("promote", ssh.name, "g1")
    nobody = f"deploy@127.0.0.1:{free_port()}"  # nothing listens: connection refused
    dead = replace(
        ssh.settings,
        hosts=(nobody,),
        lb=replace(ssh.settings.lb, host=nobody),
        connect_timeout=DEAD_TIMEOUT,
    )
    config = ssh.state_dir / "estate.toml"
    aws = molt_toml(world, ssh.state_dir / "aws.toml", name="shop").read_text()
    config.write_text(
        render_config(ssh.name, ssh.settings)
        + aws
        + local_toml("web", f"127.0.0.1:{free_port()}", 1)
        + local_toml("api", f"127.0.0.1:{free_port()}", 2)
        + render_config("gone", dead)
    )
    try:
        for launch in (
            ("shop", "--version", "v1", "--image", world.image),
            ("web", "--version", "v3", "--wait"),
            ("api", "--version", "v9", "--wait"),
        ):
            done = molt(ssh.state_dir, "launch", *launch, config=config)
            assert done.returncode == 0, done.stderr
        yield config, ssh.state_dir, ssh.name
    finally:
        stop_everything(ssh.state_dir)


def test_status_shows_two_local_fleets_ssh_aws_and_a_dead_one(mixed_estate):
    config, state_dir, rig = mixed_estate
    started = time.monotonic()
    shown = molt(state_dir, "status", config=config)
    assert time.monotonic() - started < DEAD_TIMEOUT / 3
    listed = molt(state_dir, "status", "--json", config=config)
    assert shown.returncode == listed.returncode == 1, shown.stderr  # a fleet is unreachable
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines()[1:6]}
    assert list(rows)[0] == "gone" and rows["gone"][1:3] == ["ssh", "unreachable"]
    assert rows[rig][1:5] == ["ssh", "g1", "v1", "100%"]
    healthy, total = rows[rig][5].split("/")
    assert healthy == total != "0"
    assert rows["shop"][1:5] == ["aws", "g1", "v1", "0%"]
    assert rows["web"][1:6] == ["local", "g1", "v3", "0%", "1/1"]
    assert rows["api"][1:6] == ["local", "g1", "v9", "0%", "2/2"]
    assert "! gone: unreachable since " in shown.stdout
    fleets = {f["fleet"]: f for f in json.loads(listed.stdout)}
    assert {name: f["reachable"] for name, f in fleets.items()} == {
        "gone": False,
        rig: True,
        "shop": True,
        "web": True,
        "api": True,
    }
    assert fleets["shop"]["backend"] == "aws" and fleets["shop"]["generations"][0]["id"] == "g1"


async def test_the_estate_screen_shows_every_kind_of_fleet_and_marks_the_dead_one(mixed_estate):
    """The real app on the same estate: every row painted, the dead fleet marked, and the
    others read long before the dead one's connect timeout could have ended."""
    config_path, state_dir, rig = mixed_estate
    config = load_config(str(config_path))
    app = MoltApp(list(config.fleets.values()), state_dir=state_dir, read_only=True)
    started = time.monotonic()
    async with app.run_test(size=(140, 40)) as pilot:

        def every_row_answered() -> bool:
            screen = app.screen
            return (
                isinstance(screen, EstateScreen)
                and all(s.read_at or not s.reachable for s in screen.summaries.values())
                and not screen.paint_pending
            )

        await until(pilot, every_row_answered, timeout=DEAD_TIMEOUT / 3)
        screen = app.screen
        assert isinstance(screen, EstateScreen)
        assert time.monotonic() - started < DEAD_TIMEOUT / 3
        table = screen.query_one(EstateTable)
        assert table.shown[0] == "gone"  # what needs attention first
        assert sorted(table.shown) == sorted(["gone", rig, "shop", "web", "api"])
        shown = text_of(table)
        assert "unreachable since" in shown
        rows = {line.split()[0]: line for line in shown.splitlines() if line.split()}
        assert "g1 v1 100%" in rows[rig]
        # launched, never given traffic: the row says so, with the instances' health
        assert "no traffic" in rows["shop"]
        assert "no traffic" in rows["web"] and "1/1" in rows["web"]
        assert "no traffic" in rows["api"] and "2/2" in rows["api"]


def count_remote_calls(monkeypatch) -> Counter[str]:
    """Every SSH command, SFTP action and socket stream from now on, by kind."""
    calls: Counter[str] = Counter()
    for name in ("run", "with_sftp", "open_unix", "process"):
        real = getattr(HostConnection, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(HostConnection, name, counted)
    return calls


async def test_an_estate_read_of_an_ssh_fleet_costs_what_molt_status_costs(make_fleet, monkeypatch):
    ssh = make_fleet(count=1)
    ssh.ok("launch", ssh.name, "--version", "v1", "--wait")
    fleet = ssh.rig.fleet(ssh.name, ssh.settings)
    calls = count_remote_calls(monkeypatch)
    session = FleetSession(fleet, ssh.state_dir, read_only=True)
    await read_status(session)  # the first look reads the whole journal
    calls.clear()
    await read_status(session)
    by_status = dict(calls)
    await session.close()
    async with Estate([fleet], ssh.state_dir, read_only=True) as estate:
        await estate.refresh()
        calls.clear()
        for _ in range(3):
            (summary,) = await estate.refresh()
            assert summary.reachable, summary.problem
        by_estate = {kind: count / 3 for kind, count in calls.items()}
    print(f"an SSH fleet's read: molt status {by_status}, estate {by_estate}")
    assert by_estate == by_status


async def test_an_estate_read_of_an_aws_fleet_costs_what_molt_status_costs(world, tmp_path):
    config = aws_fleet(world, name="shop")
    backend = AwsBackend(config, tmp_path)
    backend.target_health = ScriptedTargetHealth(pending_for=0.0)
    requests = install(backend)
    session = FleetSession.around(backend)
    await session.ops.launch(GenerationSpec(version="v1", count=2, artifact=world.image))
    await read_status(session)
    requests.sent.clear()
    await read_status(session)
    by_status = dict(requests.sent)
    async with Estate([config], tmp_path, read_only=True, session_for=lambda _: session) as estate:
        await estate.refresh()
        requests.sent.clear()
        await estate.refresh()
        by_estate = dict(requests.sent)
    await session.close()
    print(f"an AWS fleet's read: molt status {by_status}, estate {by_estate}")
    assert by_estate == by_status
