"""The estate: the first screen with several fleets — one row each, attention first,
each painted as it answers; enter opens a fleet, escape comes back to the same row."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette
from textual.widgets import OptionList

from backends.core.errors import Unreachable
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tests.tui.estate_fleets import (
    api,
    billing,
    estate_app,
    estate_of_four,
    estate_ready,
    still,
    web,
)
from tui.screens.estate import EstateScreen
from tui.screens.fleet import FleetScreen
from tui.widgets.estate_table import EstateTable


def table_text(screen: EstateScreen) -> str:
    return text_of(screen.query_one(EstateTable))


async def test_two_fleets_open_on_the_estate_with_a_row_each(clock: ManualClock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock)})
    async with app.run_test(size=SIZE) as pilot:
        screen = await estate_ready(pilot)
        table = screen.query_one(EstateTable)
        assert table.shown == ["web", "api"]  # the most recently changed first
        lines = table_text(screen).splitlines()
        assert "g1 v1 70% · g2 v2 30%" in lines[1] and "10/16" in lines[1]
        assert " 58 " in lines[1] and "40s" in lines[1]  # 41 + 17.5 req/s; changed 40 s ago
        assert "g1 v7 100%" in lines[2] and "2/2" in lines[2] and "5m" in lines[2]
        assert app.screen_stack[-1] is screen and screen.selected == "web"


async def test_one_fleet_opens_its_fleet_view_as_before(app, backend) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert not any(isinstance(s, EstateScreen) for s in app.screen_stack)


async def test_fleet_flag_goes_straight_in_and_escape_shows_the_estate(clock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock)}, first="api")
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        assert screen.fleet.name == "api"
        await pilot.press("escape")
        estate = await estate_ready(pilot)
        assert estate.selected == "api"  # the fleet the operator came from


async def test_enter_opens_the_fleet_on_its_one_session_and_escape_keeps_the_row(clock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock)})
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("down", "enter")
        screen = await ready(pilot)
        assert screen.fleet.name == "api"
        assert screen.session is app.sessions["api"] is app.estate.session("api")
        assert [g.version for g in screen.snapshot.generations] == ["v7"]
        await pilot.press("escape")
        estate = await estate_ready(pilot)
        assert estate.selected == "api" and len(app.screen_stack) == 2
        await pilot.press("up", "enter")  # and the other one, then f back to the first
        assert (await ready(pilot)).fleet.name == "web"


async def test_an_unreachable_fleet_is_marked_and_the_others_paint(clock) -> None:
    down = api(clock)
    down.fail("snapshot", Unreachable("connect to api.internal:443: connection refused"))
    app = estate_app(clock, {"web": web(clock), "api": down})
    async with app.run_test(size=SIZE) as pilot:
        screen = await estate_ready(pilot)
        assert screen.query_one(EstateTable).shown == ["api", "web"]  # attention first
        shown = table_text(screen)
        assert "✖ unreachable since 14:02:11 (0s)" in shown
        assert "connection refused" in shown and "g1 v1 70% · g2 v2 30%" in shown


async def test_a_fleet_that_never_answers_delays_no_other(clock) -> None:
    stuck = api(clock)
    answer = asyncio.Event()

    async def hangs():  # a host that swallows packets
        await answer.wait()
        return stuck._read()

    stuck.snapshot = hangs
    app = estate_app(clock, {"web": web(clock), "api": stuck})
    async with app.run_test(size=SIZE) as pilot:
        screen = await estate_ready(pilot, answered=1)
        assert "g1 v1 70%" in table_text(screen) and "reading…" in table_text(screen)
        await pilot.press("down")  # keys work meanwhile
        assert screen.selected == "api"
        answer.set()
        await until(pilot, lambda: "g1 v7 100%" in table_text(screen))


async def test_a_needy_fleet_says_why_under_its_row(clock) -> None:
    app = estate_app(clock, {"web": web(clock), "billing": billing(clock)})
    async with app.run_test(size=SIZE) as pilot:
        screen = await estate_ready(pilot)
        assert screen.query_one(EstateTable).shown == ["billing", "web"]
        lines = table_text(screen).splitlines()
        assert lines[2].strip().startswith("⚠ interrupted: shift")


async def test_slash_filters_the_fleets_enter_keeps_escape_clears(clock) -> None:
    fleets = {"web": web(clock), "api": api(clock), "billing": billing(clock)}
    app = estate_app(clock, fleets)
    async with app.run_test(size=SIZE) as pilot:
        screen = await estate_ready(pilot)
        table = screen.query_one(EstateTable)
        await pilot.press("slash", *"v7")
        await until(pilot, lambda: table.shown == ["api"])
        await pilot.press("enter")  # kept; keys are the estate's again
        assert screen.check_action("clear_filter", ()) and table.selected == "api"
        await pilot.press("escape")
        await until(pilot, lambda: len(table.shown) == 3)


async def test_the_palette_and_f_still_switch_fleets(clock, backend: SyntheticBackend) -> None:
    other = api(clock)
    app = make_app(backend, clock, api=other)
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"switch to fleet api")
        options = app.screen.query_one(OptionList)
        await until(pilot, lambda: options.highlighted_option is not None)
        await until(pilot, lambda: "fleet api" in str(options.highlighted_option.prompt))
        await pilot.press("enter")  # the search answers in its own time: enter once it has
        assert (await ready(pilot)).fleet.name == "api"
        await pilot.press("f", "up", "enter")
        await until(pilot, lambda: ready_name(app) == "web")
        await pilot.press("escape")
        assert (await estate_ready(pilot)).selected == "web"


def ready_name(app) -> str:
    return app.screen.fleet.name if isinstance(app.screen, FleetScreen) else ""


def test_snapshot_the_estate(snap_compare, clock: ManualClock) -> None:
    """Four fleets on three backends: the unreachable one and the one with an action cut
    short first, then by last change; traffic trends; the top row selected."""
    assert snap_compare(estate_of_four(clock), terminal_size=SIZE, run_before=still)


async def test_q_on_the_estate_says_every_fleet_keeps_running(clock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock)})
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("q")
    assert app.goodbye.startswith("Molt closed; both fleets keep running.")


async def test_read_only_says_so_and_the_fleet_opened_is_read_only_too(clock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock)}, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        estate = await estate_ready(pilot)
        assert str(estate.query_one("#mode").render()) == "READ-ONLY"
        await pilot.press("enter")
        screen = await ready(pilot)
        assert screen.read_only and all(s.read_only for s in app.sessions.values())
