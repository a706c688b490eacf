"""What changed across the estate (``c``): every fleet's journal merged, newest first,
with fleet, who, what and why; ``+`` looks further back; enter opens that fleet at that
change's generation."""

from __future__ import annotations

from textual.widgets import OptionList

from backends.core.errors import Unreachable
from tests.support.synthetic import ManualClock
from tests.tui.conftest import SIZE, ready, until
from tests.tui.estate_fleets import (
    api,
    billing,
    estate_app,
    estate_of_four,
    estate_ready,
    journaled,
    still,
    web,
)
from tui.screens.changes import ChangesScreen


def lines(screen: ChangesScreen) -> list[str]:
    shown = screen.query_one(OptionList)
    return [str(shown.get_option_at_index(n).prompt) for n in range(shown.option_count)]


async def changes_shown(pilot, count: int) -> ChangesScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, ChangesScreen))
    screen = pilot.app.screen
    await until(pilot, lambda: not screen.reading and len(lines(screen)) == count)
    return screen


async def test_c_merges_every_fleet_newest_first(clock: ManualClock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock), "billing": billing(clock)})
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("c")
        screen = await changes_shown(pilot, 5)  # the last hour: not bob's g1 of 2 h ago
        shown = lines(screen)
        assert [line.split()[3] for line in shown] == ["web", "web", "web", "api", "billing"]
        assert shown[0].endswith("alice  launch v3 ×4 → g3 — new cache layer")
        assert "bob    promote g1" in shown[3]
        assert "⚠ billing  carol  shift g1=90 g2=10 — interrupted: Molt was stopped" in shown[4]
        await pilot.press("plus")  # six hours: g1's launch and promote come in
        await changes_shown(pilot, 7)
        assert "last 6h" in str(screen.query_one("#changes").border_title)
        await pilot.press("escape")
        await estate_ready(pilot)


async def test_enter_opens_that_fleet_with_that_generation_selected(clock) -> None:
    app = estate_app(clock, {"web": web(clock), "api": api(clock)})
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("c")
        await changes_shown(pilot, 4)
        await pilot.press("down", "down", "enter")  # web: launch v2 → g2
        screen = await ready(pilot)
        assert screen.fleet.name == "web" and screen.selected == "g2"
        await pilot.press("escape")  # the changes view was on top of the estate: back there
        await estate_ready(pilot)


async def test_c_on_a_fleet_view_and_a_journal_that_cannot_be_read(clock) -> None:
    broken = api(clock)
    broken.fail("journal", Unreachable("api.internal: connection reset"))
    app = estate_app(clock, {"web": web(clock), "api": broken}, first="web")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("c")
        screen = await changes_shown(pilot, 3)  # web's; api's is named as unread
        title = str(screen.query_one("#changes-title").render())
        assert "✖ api: Unreachable: api.internal: connection reset" in title


async def test_outside_text_shows_literally(clock) -> None:
    fleet = web(clock)
    journaled(fleet, 10, "launch", {"version": "[red]v9[/]", "generation": "g4",
                                    "note": "[b]fix[/b] \x1b[31m"}, operator="[i]eve")  # fmt: skip
    app = estate_app(clock, {"web": fleet, "api": api(clock)})
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("c")
        screen = await changes_shown(pilot, 5)
        assert "[i]eve  launch [red]v9[/] → g4 — [b]fix[/b] \\x1b[31m" in lines(screen)[0]


def test_snapshot_the_changes_view(snap_compare, clock: ManualClock) -> None:
    async def run_before(pilot) -> None:
        await still(pilot)
        await pilot.press("c")
        await changes_shown(pilot, 5)

    assert snap_compare(estate_of_four(clock), terminal_size=SIZE, run_before=run_before)


async def test_a_taint_is_marked_as_one(clock) -> None:
    fleet = web(clock)
    journaled(fleet, 5, "verify", {"generation": "g1", "drift": ["local: changed app.py"]})
    app = estate_app(clock, {"web": fleet, "api": api(clock)})
    async with app.run_test(size=SIZE) as pilot:
        await estate_ready(pilot)
        await pilot.press("c")
        screen = await changes_shown(pilot, 5)
        assert "✗ web  bob    taint g1 — drift: local: changed app.py" in lines(screen)[0]
