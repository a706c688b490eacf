"""A look never moves traffic, in the TUI too (issue 18): a Molt opened (read-write) with
a molt.toml whose ``listen`` differs shows the difference naming ``molt apply`` while
its polling leaves the proxy where it serves."""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import replace

from backends.core.model import GenerationSpec
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from backends.local.driver import LocalBackend
from backends.local.processes import free_port
from tests.support.local import local_fleet, state_dir_env
from tests.tui.conftest import ready, text_of, until
from tui.app import MoltApp
from tui.widgets.status import StatusLine


def answers(listen: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{listen}/", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


async def test_the_tui_shows_a_changed_listen_and_leaves_the_proxy_where_it_is():
    first, second = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    with state_dir_env() as state_dir:
        fleet = local_fleet("web", count=1, listen=first, start_period=5.0)
        backend = LocalBackend(fleet, state_dir)
        ops = Operations(backend)
        await ops.launch(GenerationSpec(version="v1", count=1))
        await FleetSession.around(backend).wait_settled("g1", timeout=20)
        await ops.promote("g1")
        await backend.close()
        elsewhere = replace(fleet, settings=replace(fleet.settings, listen=second))
        app = MoltApp([elsewhere], state_dir=state_dir)
        async with app.run_test(size=(160, 36)) as pilot:
            screen = await ready(pilot)
            status = screen.query_one(StatusLine)
            await until(pilot, lambda: "`molt apply web`" in text_of(status), timeout=10)
            for _ in range(3):  # the TUI keeps polling meanwhile
                assert await asyncio.to_thread(answers, first)
                await pilot.pause(0.5)
            assert screen.snapshot is not None and screen.snapshot.entry == first
        assert await asyncio.to_thread(answers, first)
        assert not await asyncio.to_thread(answers, second)
