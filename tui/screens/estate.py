"""The estate: every fleet of molt.toml at once, one row each — the first screen when
there are several. ``enter`` opens a fleet (escape comes back here, the selection kept),
``/`` filters, ``c`` shows what changed across the estate.

The reading is the App's :class:`~backends.engine.estate.Estate` (every fleet in
parallel, each with its own deadline and backoff, through the App's own sessions); this
screen follows it while it is on screen and paints each fleet as it answers, so a fleet
that cannot be read never delays the others. No key waits for a read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, tzinfo
from typing import Protocol, runtime_checkable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from backends.core.estate import FleetSummary, order
from backends.engine.updates import describe
from tui import actions
from tui.commands import choices
from tui.formatting import counted, literal
from tui.modals.help import HelpModal
from tui.widgets.estate_table import EstateTable

REFRESH_EVERY = 2.0  # seconds between reads of every fleet, while the estate shows
#: seconds a fleet's answer waits for others before the rows are painted: one paint for
#: the fleets that answer together, not one each, and still well within a glance
PAINT_WITHIN = 0.1


class EstateReads(Protocol):
    """What the screen needs of :class:`~backends.engine.estate.Estate`."""

    def summaries(self) -> list[FleetSummary]: ...
    def follow(self, period: float) -> AsyncIterator[FleetSummary]: ...


@runtime_checkable
class OpensFleets(Protocol):
    """The App as the estate sees it."""

    def action_open_fleet(self, name: str) -> None: ...
    def action_changes(self) -> None: ...


class EstateHeader(Horizontal):
    """`` Molt  estate · 3 fleets · 1 needs attention                  read-write``"""

    DEFAULT_CSS = """
    EstateHeader { height: 1; background: $panel; color: $foreground; }
    EstateHeader > #where { width: 1fr; }
    EstateHeader > #mode { width: auto; padding: 0 1; }
    EstateHeader > #mode.read-only { background: $warning; color: $background; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="where")
        yield Static(id="mode")

    _shown: tuple[int, int, bool] | None = None

    def show(self, summaries: list[FleetSummary], read_only: bool) -> None:
        calling = sum(1 for s in summaries if s.needs_attention())
        if self._shown == (len(summaries), calling, read_only):
            return  # the same words: an update would lay the screen out again for nothing
        self._shown = (len(summaries), calling, read_only)
        where = Text.assemble((" Molt ", "bold reverse"), "  ", ("estate", "bold"), " · ")
        where.append(counted(len(summaries), "fleet"))
        if calling:
            where.append(f" · {calling} need{'s' if calling == 1 else ''} attention", "bold")
        self.query_one("#where", Static).update(where)
        mode = self.query_one("#mode", Static)
        mode.update(Text("READ-ONLY", "bold") if read_only else Text("read-write"))
        mode.set_class(read_only, "read-only")


class EstateScreen(Screen[None]):
    """Every fleet, attention first, then the most recently changed.

    Args:
        estate: reads every fleet (the App's).
        read_only: the App's mode (shown; the estate only reads anyway).
        clock: the time ages are counted to.
        tz: the time zone times are shown in.
        preparing: a fleet's first launch in words (the built-in demo's), "" if none.
    """

    AUTO_FOCUS = ""  # keys belong to the estate until `/` opens the filter
    BINDINGS = actions.bindings(actions.ESTATE)

    def __init__(
        self,
        estate: EstateReads,
        *,
        read_only: bool,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
        preparing: Callable[[str], str] = lambda _: "",
    ) -> None:
        super().__init__()
        self.estate, self.read_only, self.clock, self.tz = estate, read_only, clock, tz
        self.preparing = preparing
        self.summaries: dict[str, FleetSummary] = {s.name: s for s in estate.summaries()}
        self._keys_for: actions.Situation | None = None
        self._choose_first = ""  # selected once mounted (escape from a fleet opened first)
        self._paint_due: Timer | None = None

    @property
    def selected(self) -> str | None:
        """The selected fleet's name."""
        return self.query_one(EstateTable).selected if self.is_mounted else None

    def compose(self) -> ComposeResult:
        yield EstateHeader()
        with Vertical(id="estate"):
            yield EstateTable(self.clock, self.tz, id="fleets")
            yield Input(
                placeholder="filter: name, backend, version, attention — enter keeps it, "
                "escape clears",
                id="estate-filter",
            )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#estate").border_title = "fleets"
        if self._choose_first:
            self.query_one(EstateTable).choose(self._choose_first)
        self.paint()
        self.set_interval(1.0, self.paint, name="ages")  # ages, and a demo's first launch

    def on_screen_resume(self) -> None:
        self._follow()  # paint each fleet as it answers, from now on

    def on_screen_suspend(self) -> None:
        self.workers.cancel_group(self, "estate-follow")  # a fleet on screen reads itself

    def select(self, name: str) -> None:
        """Select ``name`` (the fleet the operator comes back from), now or once shown."""
        if name in self.summaries and self.is_mounted:
            self.query_one(EstateTable).choose(name)
        elif name in self.summaries:
            self._choose_first = name

    # reading: the estate, painted as each fleet answers -----------------------------------
    @work(exclusive=True, group="estate-follow", exit_on_error=False)
    async def _follow(self) -> None:
        async for summary in self.estate.follow(REFRESH_EVERY):
            self.summaries[summary.name] = summary
            if self._paint_due is None:  # fleets answering together are painted together
                self._paint_due = self.set_timer(PAINT_WITHIN, self._paint_answers)

    @property
    def paint_pending(self) -> bool:
        """Answers read but not painted yet (they will be within :data:`PAINT_WITHIN`)."""
        return self._paint_due is not None

    def _paint_answers(self) -> None:
        self._paint_due = None
        self.paint()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure of the estate itself (each fleet's is on its row): said, not fatal."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            title, message = describe(event.worker.error)
            self.notify(literal(message), title=title, severity="error", markup=False)

    def paint(self) -> None:
        """Every fleet's row from the summaries as they stand (each read calls it)."""
        shown = order(list(self.summaries.values()))
        self.query_one(EstateHeader).show(shown, self.read_only)
        self.query_one(EstateTable).show(shown, {s.name: self.preparing(s.name) for s in shown})
        self._refresh_footer()

    # what applies now ---------------------------------------------------------------------
    def situation(self) -> actions.Situation:
        field = self.query_one("#estate-filter", Input)
        return actions.Situation(
            chosen=self.selected is not None,
            filtering=field.has_focus,
            filtered=bool(field.value) and not field.display,
            fleets=len(self.summaries),
            read_only=self.read_only,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.is_mounted:
            return True
        return actions.enabled(action, self.situation(), screen=actions.ESTATE)

    def _refresh_footer(self) -> None:
        now = self.situation()
        if now != self._keys_for:
            self._keys_for = now
            self.refresh_bindings()

    def palette_commands(self) -> list[tuple[str, str, str]]:
        """The estate's rows that apply now, then each fleet to open."""
        rows = actions.palette_rows(
            self.situation(), self.selected, screen=actions.ESTATE, something="the fleet"
        )
        others = [s.name for s in order(list(self.summaries.values())) if s.name != self.selected]
        return rows + choices(None, others)

    # the keys: each row of tui/actions.py runs one of these ------------------------------
    def action_select(self, step: int) -> None:
        self.query_one(EstateTable).move(step)
        self._refresh_footer()

    def action_open(self) -> None:
        app, name = self.app, self.selected
        if name is not None and isinstance(app, OpensFleets):
            app.action_open_fleet(name)

    def action_changes(self) -> None:
        app = self.app
        if isinstance(app, OpensFleets):
            app.action_changes()

    def action_filter(self) -> None:
        field = self.query_one("#estate-filter", Input)
        field.display = True
        field.focus()
        self._refresh_footer()

    @on(Input.Changed, "#estate-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(EstateTable).filter_text = event.value
        box = self.query_one("#estate")
        shown = Text(f"fleets · filter: {literal(event.value)}") if event.value else "fleets"
        box.border_title = shown  # a Text: the operator's words are never markup
        self._refresh_footer()

    @on(Input.Submitted, "#estate-filter")
    def _filter_kept(self) -> None:
        self._close_filter(clear=False)

    def action_close_filter(self) -> None:
        self._close_filter(clear=True)

    def action_clear_filter(self) -> None:
        self._close_filter(clear=True)

    def _close_filter(self, *, clear: bool) -> None:
        field = self.query_one("#estate-filter", Input)
        if clear:
            field.value = ""
        field.display = False
        self.set_focus(None)
        self._refresh_footer()

    def action_help(self) -> None:
        rows = actions.help_rows(self.read_only, screen=actions.ESTATE)
        self.app.push_screen(HelpModal(rows, self.read_only))

    async def action_quit(self) -> None:
        await self.run_action("app.quit")
