"""Issue 21, "the first five minutes": what a newcomer meets in the fleet view — a
footer that keeps `?` and `q` however narrow, the selected column always in view,
`escape` clearing a kept filter, a help that scrolls and explains every glyph, a
rollout named wherever it is driven, a launch dialog that starts from what is live and
fits 80×24."""

from __future__ import annotations

import pytest
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import Button, Footer, Input, Label, Static

from backends.core.locking import ROLLOUT_LOCK
from backends.core.model import Health
from backends.core.rollout import Plan
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import make_app, ready, text_of, until
from tests.tui.fleets import two_generations
from tui.formatting import EVENT_MARKS, FLAG, GLYPHS, REBUILD, TAINTED
from tui.modals.help import HelpModal
from tui.modals.launch import LaunchModal
from tui.rollout_view import CHECK_MARKS
from tui.widgets.attention import INTERRUPTED, LOCKED, ROLLING, AttentionBar
from tui.widgets.event_log import EventLog
from tui.widgets.events_pane import EventsPane
from tui.widgets.generations import GenerationStrip


def footer_text(pilot) -> str:
    """The footer's one line as shown: each key and label put where it is drawn."""
    footer = pilot.app.screen.query_one(Footer)
    line = [" "] * footer.region.width
    for part in footer.query("FooterKey, FooterLabel"):
        if not part.display or not part.region.width:
            continue
        x = part.region.x - footer.region.x
        for offset, char in enumerate(text_of(part)[: part.region.width]):
            if 0 <= x + offset < len(line):
                line[x + offset] = char
    return "".join(line)


async def test_the_footer_keeps_help_and_quit_at_80_columns(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.pause()
        footer = footer_text(pilot)
        assert "? help" in footer and "q quit" in footer
        assert "n launch" in footer and "←→ select" in footer  # the most used stay too


async def test_the_footer_keeps_help_and_quit_at_60_columns(app):
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        await pilot.pause()
        footer = footer_text(pilot)
        assert "? help" in footer and "q quit" in footer


async def test_a_narrow_footer_keeps_the_keys_of_the_moment(app):
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        await pilot.press("left", "plus")  # a shift staged: enter applies, escape drops
        await pilot.pause()
        footer = footer_text(pilot)
        assert "⏎ apply" in footer and "esc drop" in footer
        assert "? help" in footer and "q quit" in footer


async def test_the_footer_gives_keys_back_as_the_terminal_widens(app):
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        await pilot.pause()
        assert "/ filter" not in footer_text(pilot)
        await pilot.resize_terminal(140, 36)
        await until(pilot, lambda: "/ filter" in footer_text(pilot))
        assert "? help" in footer_text(pilot)


async def test_footer_groups_are_spaced_like_single_keys(app):
    async with app.run_test(size=(140, 36)) as pilot:
        await ready(pilot)
        await pilot.pause()
        footer = footer_text(pilot)
        assert "←→ select +- shift ⏎ inspect" in footer


def fully_shown(pilot) -> bool:
    """The selected column lies inside the strip's visible region and is what the screen
    shows at its four corners (nothing scrolled over it, nothing cut), drawn."""
    screen = pilot.app.screen
    strip = screen.query_one(GenerationStrip)
    column = strip.column(screen.selected)
    if column is None or not column.region.width:
        return False
    region = column.region
    if not strip.scrollable_content_region.contains_region(region):
        return False
    corners = [(x, y) for x in (region.x, region.right - 1) for y in (region.y, region.bottom - 1)]
    for x, y in corners:
        widget, _ = screen.get_widget_at(x, y)
        if widget is not column and column not in widget.ancestors:
            return False
    lines = text_of(column).splitlines()
    return len(lines) > 2 and any(line.strip(" │┃") for line in lines[1:-1])


def seven_generations(clock: ManualClock) -> SyntheticBackend:
    backend = SyntheticBackend(clock=clock, auto_health=0.01)
    backend.add_generation("v1", 3, weight=100)
    for number in range(2, 8):
        backend.add_generation(f"v{number}", 3)
    return backend


@pytest.mark.parametrize("size", [(140, 36), (80, 24)])
async def test_launching_an_eighth_generation_scrolls_it_into_view(clock, size):
    backend = seven_generations(clock)
    app = make_app(backend, clock)
    async with app.run_test(size=size) as pilot:
        screen = await ready(pilot)
        strip = screen.query_one(GenerationStrip)
        await pilot.press("left", "left", "left")  # away from the newest, as one would be
        await pilot.pause(0.2)
        assert screen.selected == "g4" and fully_shown(pilot)
        away = strip.scroll_x
        await pilot.press("n", "v", "8", "enter")
        await until(pilot, lambda: screen.selected == "g8")
        await until(pilot, lambda: fully_shown(pilot))  # as it is selected
        assert strip.scroll_x > away  # the strip scrolled to it: it was out of view
        await pilot.pause(0.2)
        assert screen.selected == "g8" and fully_shown(pilot)  # and it stays so


async def test_the_selected_column_stays_in_view_through_a_resize(clock):
    backend = seven_generations(clock)
    app = make_app(backend, clock)
    async with app.run_test(size=(140, 36)) as pilot:
        screen = await ready(pilot)
        await pilot.pause(0.2)
        assert screen.selected == "g7" and fully_shown(pilot)
        await pilot.resize_terminal(60, 20)
        await pilot.pause(0.3)
        assert screen.selected == "g7" and fully_shown(pilot)
        await pilot.press("left", "left", "left")
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.3)
        assert screen.selected == "g4" and fully_shown(pilot)


async def test_escape_clears_a_kept_filter(app):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        log = screen.query_one(EventLog)
        await pilot.press("slash", "g", "1", "enter")  # enter keeps the filter
        assert log.filter_text == "g1" and not screen.filtering
        assert "esc clear filter" in footer_text(pilot)
        await pilot.press("escape")
        assert log.filter_text == ""
        assert screen.query_one(EventsPane).border_title == "events"
        await until(pilot, lambda: "clear filter" not in footer_text(pilot))


async def test_the_help_fits_60_columns_and_scrolls_to_its_legend(app):
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpModal))
        dialog = app.screen.query_one(".dialog", VerticalScroll)
        assert dialog.region.right <= 60 and dialog.region.bottom <= 20  # not cut
        assert dialog.max_scroll_y > 0  # taller than the screen: it scrolls
        await pilot.press("end")
        await until(pilot, lambda: dialog.scroll_y == dialog.max_scroll_y)
        last = app.screen.query(Static).last()
        assert last.region.y < dialog.region.bottom  # its last line can be reached
        assert "escape closes this help" in text_of(last)


async def test_the_help_explains_every_glyph_the_fleet_view_draws(app):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpModal))
        shown = "\n".join(text_of(s) for s in app.screen.query(Static))
    glyphs = [*GLYPHS.values(), FLAG, f"{TAINTED} tainted", f"{REBUILD} due a rebuild"]
    glyphs += [INTERRUPTED, LOCKED, ROLLING, *EVENT_MARKS.values()]
    glyphs += [mark for mark, _ in CHECK_MARKS.values()]
    assert [glyph for glyph in glyphs if glyph not in shown] == []


def attention_text(pilot) -> str:
    bar = pilot.app.screen.query_one(AttentionBar)
    return " ".join(text_of(bar).split()) if bar.display else ""  # its lines wrap


async def test_a_rollout_driven_from_the_cli_is_named_on_the_attention_line(clock, monkeypatch):
    monkeypatch.setattr("backends.engine.feed.ATTENTION_EVERY", 0.1)
    backend = two_generations(clock)
    backend.set_traffic("g1", 41, 0.001, 18)
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await backend.rollout_elsewhere("g2", "g1", steps=1, plan=Plan(), by="bob")
        running = "↠ rollout of g2 against g1: running, step 1/4 (10%) — driven by bob"
        await until(pilot, lambda: running in attention_text(pilot), timeout=20)
        del backend.leases[ROLLOUT_LOCK]  # bob's terminal closed mid-rollout
        interrupted = "↠ rollout of g2 against g1: interrupted, step 1/4 (10%)"
        await until(pilot, lambda: interrupted in attention_text(pilot), timeout=20)
        assert "— space drives it on, A aborts" in attention_text(pilot)


async def test_launch_starts_from_the_live_version_not_a_newer_failed_one(clock):
    backend = two_generations(clock)  # g1 v1 carries everything
    backend.add_generation("v8-bad", [Health.UNHEALTHY] * 3)
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchModal))
        assert app.screen.query_one("#version", Input).value == "v1"


async def test_launch_warns_when_the_version_runs_already_and_still_launches(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, LaunchModal))
        label = app.screen.query_one("#version-label", Label)
        assert "⚠ v1 already runs as g1" in text_of(label)  # the live one, prefilled
        await pilot.press("v", "9")  # the prefill is selected: typing replaces it
        assert text_of(label).strip() == "Version"
        await pilot.press("backspace", "2")
        assert "⚠ v2 already runs as g2" in text_of(label)
        await pilot.press("enter")  # a warning, not a refusal
        await until(pilot, lambda: len(screen.snapshot.generations) == 4)


async def test_a_rollout_this_molt_drives_says_so(clock, monkeypatch):
    monkeypatch.setattr("backends.engine.feed.ATTENTION_EVERY", 0.1)
    backend = two_generations(clock)
    backend.set_traffic("g1", 41, 0.001, 18)
    backend.set_traffic("g2", 5, 0.001, 19)
    app = make_app(backend, clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("R", "y")
        line = "↠ rollout of g2 against g1: running, step 1/4 (10%) — driven by this Molt"
        await until(pilot, lambda: line in attention_text(pilot), timeout=20)


async def open_launch(pilot) -> LaunchModal:
    await ready(pilot)
    await pilot.press("n")
    await until(pilot, lambda: isinstance(pilot.app.screen, LaunchModal))
    await pilot.pause()
    return pilot.app.screen


def in_view(dialog, widget) -> bool:
    """``widget`` lies within what the dialog shows (inside its border and padding)."""
    return dialog.scrollable_content_region.contains_region(widget.region)


def within_screen(widget, size: tuple[int, int]) -> bool:
    region = widget.region
    return region.width > 0 and region.height > 0 and Region(0, 0, *size).contains_region(region)


async def test_the_launch_dialog_fits_80_by_24(app):
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_launch(pilot)
        dialog = modal.query_one(".dialog")
        fields = [*modal.query(Input), *modal.query(Button)]
        assert len(fields) == 6  # version, instances, note, artifact; launch, cancel
        assert [f.id for f in fields if not in_view(dialog, f)] == []
        assert all(within_screen(f, (80, 24)) for f in fields)
        assert dialog.max_scroll_y == 0  # all of it shown, nothing to scroll to


async def test_the_launch_dialog_scrolls_to_its_buttons_when_shorter(app):
    async with app.run_test(size=(80, 16)) as pilot:
        modal = await open_launch(pilot)
        dialog = modal.query_one(".dialog")
        assert dialog.region.bottom <= 16 and dialog.max_scroll_y > 0
        launch = modal.query_one("#launch", Button)
        launch.focus()  # as tab reaches it
        await until(pilot, lambda: in_view(dialog, launch))
        assert within_screen(launch, (80, 16))


async def test_a_launch_refused_in_the_dialog_shows_why_beside_its_buttons(app):
    async with app.run_test(size=(120, 36)) as pilot:
        modal = await open_launch(pilot)
        dialog = modal.query_one(".dialog")
        await pilot.press("backspace", "enter")  # no version: refused, said in the dialog
        problem = modal.query_one("#problem", Label)
        await until(pilot, lambda: "needs a version" in text_of(problem))
        shown = [problem, modal.query_one("#launch", Button), modal.query_one("#cancel", Button)]
        await until(pilot, lambda: all(in_view(dialog, w) for w in shown))
        assert all(within_screen(w, (120, 36)) for w in shown)
