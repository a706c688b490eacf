"""``f`` and ``q`` during a retire, and read-only, on the real local backend: a real
agent, real processes. The app of these fleets ignores SIGTERM, so the agent waits out
its stop grace (5 s) before SIGKILL: a retire lasts long enough to act while it runs."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from backends.config.fleet_config import FleetConfig
from backends.core.deadline import Deadline
from backends.core.model import GenerationSpec
from backends.engine.session import FleetSession
from backends.local.demo import demo_artifact
from backends.local.processes import free_port
from tests.support.local import local_fleet, state_dir_env
from tests.tui.conftest import choose, fleet_screen, ready, text_of, until
from tests.tui.test_in_flight import exited
from tui.app import MoltApp
from tui.widgets.event_log import EventLog
from tui.widgets.header import FleetHeader
from tui.widgets.status import StatusLine

pytestmark = pytest.mark.slow

EXITS = "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))"
IGNORES = "signal.signal(signal.SIGTERM, signal.SIG_IGN)"


@contextlib.contextmanager
def stubborn_artifact() -> Iterator[Path]:
    """The demo app, except that it ignores SIGTERM (as a slow-to-stop service would)."""
    source = (demo_artifact() / "app.py").read_text()
    assert EXITS in source
    with tempfile.TemporaryDirectory(prefix="molt-stubborn-") as directory:
        (Path(directory) / "app.py").write_text(source.replace(EXITS, IGNORES))
        yield Path(directory)


def stubborn_fleet(name: str, artifact: Path) -> FleetConfig:
    fleet = local_fleet(name, count=1, drain_timeout=1.0)
    return replace(fleet, settings=replace(fleet.settings, artifact=artifact))


async def launch_two_healthy(fleet: FleetConfig, state_dir: Path) -> None:
    """g1 and g2 healthy, g2 with all the traffic: g1 may be retired."""
    async with FleetSession(fleet, state_dir) as session:
        for version in ("v1", "v2"):
            generation = await session.ops.launch(GenerationSpec(version=version, count=1))
            await session.wait_settled(generation.id, timeout=30)
        await session.ops.promote("g2")


async def retire_outcomes(fleet: FleetConfig, state_dir: Path) -> list[str]:
    async with FleetSession(fleet, state_dir, read_only=True) as session:
        return [r.outcome.value for r in await session.history() if r.action == "retire"]


async def start_retire(pilot, generation: str = "g1") -> None:
    await ready(pilot)
    await choose(pilot, generation)
    await pilot.press("r", *generation, "enter")
    status = fleet_screen(pilot).query_one(StatusLine)
    await until(pilot, lambda: f"retiring {generation}" in text_of(status), timeout=10)


async def test_f_during_a_local_retire_lets_it_finish():
    with state_dir_env() as state_dir, stubborn_artifact() as artifact:
        web = stubborn_fleet("web", artifact)
        await launch_two_healthy(web, state_dir)
        app = MoltApp([web, local_fleet("api", count=1)], fleet="web", state_dir=state_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            await start_retire(pilot)
            await pilot.press("f", "down", "enter")
            await until(pilot, lambda: fleet_screen(pilot).fleet.name == "api", timeout=10)
            await pilot.press("f", "up", "enter")
            await until(pilot, lambda: fleet_screen(pilot).fleet.name == "web")
            screen = await ready(pilot)
            assert "retiring g1" in text_of(screen.query_one(StatusLine))  # still running
            await until(pilot, lambda: screen.snapshot.generation("g1") is None, timeout=30)
        assert await retire_outcomes(web, state_dir) == ["ok"]


async def test_q_then_wait_during_a_local_retire_quits_once_it_is_done():
    with state_dir_env() as state_dir, stubborn_artifact() as artifact:
        web = stubborn_fleet("web", artifact)
        await launch_two_healthy(web, state_dir)
        app = MoltApp([web], state_dir=state_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            await start_retire(pilot)
            await pilot.press("q", "w")
            await exited(app, timeout=30)
        assert await retire_outcomes(web, state_dir) == ["ok"]


async def test_q_then_quit_now_during_a_local_retire_journals_it_interrupted():
    with state_dir_env() as state_dir, stubborn_artifact() as artifact:
        web = stubborn_fleet("web", artifact)
        await launch_two_healthy(web, state_dir)
        app = MoltApp([web], state_dir=state_dir)
        async with app.run_test(size=(120, 36)) as pilot:
            await start_retire(pilot)
            await pilot.press("q", "n")
            await exited(app)
        assert await retire_outcomes(web, state_dir) == ["interrupted"]
        async with FleetSession(web, state_dir, read_only=True) as session:
            async for _ in Deadline(30).every(0.2):  # the agent finishes it on its own
                if (await session.read()).generation("g1") is None:
                    break
            assert [g.id for g in (await session.read()).generations] == ["g2"]


async def test_read_only_with_a_changed_listen_moves_nothing_and_shows_it():
    with state_dir_env() as state_dir:
        running = local_fleet("web", count=1)
        async with FleetSession(running, state_dir) as session:
            entry = (await session.read()).entry  # the agent runs the fleet from now on
        listen = f"127.0.0.1:{free_port()}"
        changed = replace(running, settings=replace(running.settings, listen=listen))
        app = MoltApp([changed], state_dir=state_dir, read_only=True)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await ready(pilot)
            status = screen.query_one(StatusLine)
            await until(pilot, lambda: f"≠ molt.toml sets listen = '{listen}'" in text_of(status))
            log = screen.query_one(EventLog)
            await until(pilot, lambda: any("sets listen" in e.text() for e in log.visible_events))
            await pilot.pause(1.0)  # watching changes nothing
            assert f"proxy {entry}" in text_of(screen.query_one(FleetHeader).query_one("#where"))
        async with FleetSession(running, state_dir, read_only=True) as session:
            assert (await session.read()).entry == entry
