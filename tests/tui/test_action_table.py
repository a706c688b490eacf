"""The one action table (tui/actions.py) is where every key of the fleet view comes
from: each row is found in the bindings, in the footer when it applies, in the ``?``
help and in the command palette — on the real app."""

from __future__ import annotations

from textual.binding import Binding
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Footer, OptionList, Static

from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import make_app, ready, text_of, until
from tests.tui.fleets import two_generations
from tui.actions import KEY_NAMES, TABLE, Action, help_rows
from tui.modals.help import HelpModal
from tui.screens.changes import ChangesScreen
from tui.screens.estate import EstateScreen
from tui.screens.fleet import FleetScreen
from tui.screens.inspect import InspectScreen
from tui.screens.logs import LogsScreen
from tui.screens.timeline import TimelineScreen

WIDE = (240, 40)  # room for every footer key at once
WAIT = 20.0  # a rollout's first step takes a read or two


class Seen:
    """What the footer and the palette showed, over the states an operator goes through."""

    def __init__(self) -> None:
        self.footer = ""
        self.palette: set[str] = set()
        self.chosen: set[str] = set()

    async def look(self, pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, FleetScreen)
        footer = screen.query_one(Footer)
        await until(pilot, lambda: footer.query("FooterKey"))  # drawn for this state
        keys = footer.query("FooterKey, FooterLabel")  # what it draws
        self.footer += "\n" + "\n".join(text_of(key) for key in keys)
        self.chosen.add(screen.selected or "")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
        options = pilot.app.screen.query_one(OptionList)
        await until(pilot, lambda: options.option_count > len(screen.palette_commands()))
        for index in range(options.option_count):
            self.palette.add(str(options.get_option_at_index(index).prompt).split("\n")[0])
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen)

    def in_palette(self, row: Action) -> bool:
        return any(row.palette.format(chosen=c) in self.palette for c in self.chosen)


def rolling_out(clock: ManualClock) -> SyntheticBackend:
    backend = two_generations(clock)
    backend.set_traffic("g1", 41, 0.001, 18)
    backend.set_traffic("g2", 5, 0.001, 19)
    return backend


async def test_every_row_is_a_binding_a_footer_key_a_help_row_and_a_command(
    backend: SyntheticBackend, clock: ManualClock
) -> None:
    screens = {"fleet": FleetScreen, "inspect": InspectScreen, "timeline": TimelineScreen}
    screens |= {"logs": LogsScreen, "estate": EstateScreen, "changes": ChangesScreen}
    for row in TABLE:
        bound = [(b.action, b.id) for b in screens[row.screen].BINDINGS if isinstance(b, Binding)]
        assert (row.action, row.id or row.name) in bound, row
    seen = Seen()
    app = make_app(backend, clock, first="web", api=two_generations(clock))
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        await seen.look(pilot)  # g3 selected, nothing staged
        await pilot.press("plus")  # a shift staged: apply and drop
        await seen.look(pilot)
        await pilot.press("escape", "slash", "g", "enter")  # a filter kept: clear it
        await seen.look(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpModal))
        shown_help = "\n".join(text_of(s) for s in app.screen.query(Static))
    app = make_app(rolling_out(clock), clock)
    async with app.run_test(size=WIDE) as pilot:
        screen = await ready(pilot)
        await pilot.press("R", "y")  # a rollout runs: pause and abort
        await until(pilot, lambda: screen.check_action("pause_rollout", ()), timeout=WAIT)
        await seen.look(pilot)
        await pilot.press("space")  # paused: resume
        await until(pilot, lambda: screen.check_action("resume_rollout", ()), timeout=WAIT)
        await seen.look(pilot)
    for row in (row for row in TABLE if row.screen == "fleet"):
        if row.footer:
            assert row.description in seen.footer, row.action
        if row.footer or row.help:
            key = KEY_NAMES.get(row.keys, row.key_display or row.keys)
            assert row.description in shown_help and f"{key} " in shown_help, row.action
        if row.palette:
            assert seen.in_palette(row), row.action
    keys = [keys for keys, _, _ in help_rows(read_only=False)]
    assert keys[:3] == ["n", "← →", "+ -"] and keys[-1] == "ctrl+p"


async def test_the_estate_and_changes_rows_are_footer_keys_help_rows_and_commands(clock) -> None:
    from tests.tui.estate_fleets import api, estate_app, estate_ready, web

    app = estate_app(clock, {"web": web(clock), "api": api(clock)})
    footers = ""
    async with app.run_test(size=WIDE) as pilot:
        estate = await estate_ready(pilot)

        async def footer_now() -> str:
            footer = pilot.app.screen.query_one(Footer)
            await until(pilot, lambda: footer.query("FooterKey"))
            return "\n".join(text_of(k) for k in footer.query("FooterKey, FooterLabel"))

        footers += await footer_now()
        await pilot.press("slash", "w", "enter")  # a filter kept: clear it
        footers += await footer_now()
        await pilot.press("escape", "ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        options = app.screen.query_one(OptionList)
        await until(pilot, lambda: options.option_count >= len(estate.palette_commands()))
        palette = [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpModal))
        shown_help = "\n".join(text_of(s) for s in app.screen.query(Static))
        await pilot.press("escape", "c")
        await until(pilot, lambda: type(app.screen).__name__ == "ChangesScreen")
        footers += await footer_now()
    for row in TABLE:
        if row.screen in ("estate", "changes") and row.footer:
            assert f"{row.description}" in footers, row.id
        if row.screen == "estate" and row.footer:
            key = KEY_NAMES.get(row.keys, row.key_display or row.keys)
            assert row.description in shown_help and f"{key} " in shown_help, row.id
        if row.screen == "estate" and row.palette:
            title = row.palette.format(chosen="web")
            assert any(p.startswith(title) for p in palette), row.id
