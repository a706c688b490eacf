"""What changed across the estate (``c``): every launch, shift, promote, rollback,
retire, rollout event, taint and action cut short, of every fleet, newest first — with
the fleet, who, what and why. ``+``/``-`` look further or less far back; ``enter`` opens
that fleet with that change's generation selected.

Each fleet's journal is read through the App's own session, all at once, each within a
deadline (a fleet that cannot be read is named, and the others still show); the merge is
:func:`backends.core.changes.merge`, the same as ``molt changes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Protocol, runtime_checkable

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from backends.core.changes import Change, Changes, merge
from backends.core.journal import JournalRecord, Outcome
from backends.engine.session import FleetSession
from backends.engine.updates import describe
from tui import actions
from tui.formatting import TAINTED, counted, literal

#: how far back the view looks: ``+`` and ``-`` move along these
SINCE: tuple[tuple[str, timedelta], ...] = (
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("6h", timedelta(hours=6)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
)
DEFAULT_SINCE = 1  # 1h
DEADLINE = 5.0  # seconds one fleet's journal may take to read
MARKS = {Outcome.OK.value: "»", Outcome.REFUSED.value: "✖", Outcome.FAILED.value: "✖"}
CUT_SHORT = "⚠"  # interrupted, or started and never finished
WHO_WIDTH = 14  # a longer name pushes its own line's words, not every line's


@runtime_checkable
class OpensFleetsAt(Protocol):
    """The App as this view sees it."""

    def open_fleet_at(self, name: str, generation: str | None) -> None: ...


def _padded(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def change_line(change: Change, widths: tuple[int, int], tz: tzinfo | None) -> Text:
    """`` 12-07 14:01:58 » web   alice  shift g1=70 g2=30 — rollout step 1/3``; every
    word from outside literal (a ``Text``, never markup)."""
    mark = MARKS.get(change.outcome, CUT_SHORT)
    tone = "" if change.outcome == Outcome.OK.value else "bold red" if mark == "✖" else "yellow"
    if change.action == "verify" and not tone:  # drift found: the generation is tainted
        mark, tone = TAINTED, "yellow"
    line = Text.assemble(
        (change.at.astimezone(tz).strftime("%m-%d %H:%M:%S"), "dim"),
        " ",
        (mark, tone or "bold"),
        " ",
        (_padded(literal(change.fleet), widths[0]), "bold"),
        "  ",
        (_padded(literal(change.who), widths[1]), ""),
        "  ",
        (literal(change.what), tone),
    )
    if change.why:
        line.append(f" — {literal(change.why)}", tone or "dim")
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


class ChangeList(OptionList, can_focus=False):
    """The changes, newest first; the view's keys move the highlight (every key is a
    row of the action table), a click selects."""


class ChangesScreen(Screen[None]):
    """Every fleet's changes, merged by time, newest first.

    Args:
        sessions: each fleet's session, or why it could not be opened.
        clock: the time the window is counted back from.
        tz: the time zone times are shown in.
    """

    BINDINGS = actions.bindings(actions.CHANGES)

    def __init__(
        self,
        sessions: Mapping[str, FleetSession | str],
        *,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.sessions, self.clock, self.tz = dict(sessions), clock, tz
        self.since = DEFAULT_SINCE
        self.changes: list[Change] = []  # newest first, as shown
        self.problems: dict[str, str] = {n: s for n, s in sessions.items() if isinstance(s, str)}
        self.left_off = 0
        self.reading = True

    def compose(self) -> ComposeResult:
        yield Static(id="changes-title")
        with Vertical(id="changes"):
            yield ChangeList(id="change-list")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._title()
        self._read()

    # reading every fleet's journal --------------------------------------------------------
    @work(exclusive=True, group="changes-read", exit_on_error=False)
    async def _read(self) -> tuple[Changes, dict[str, str]]:
        opened = {n: s for n, s in self.sessions.items() if isinstance(s, FleetSession)}
        read = await asyncio.gather(*(_journal(s) for s in opened.values()))
        journals: dict[str, list[JournalRecord]] = {}
        problems = {n: s for n, s in self.sessions.items() if isinstance(s, str)}
        for name, (records, problem) in zip(opened, read, strict=True):
            if problem:
                problems[name] = problem
            else:
                journals[name] = records
        return merge(journals, since=self.clock() - SINCE[self.since][1]), problems

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            merged, self.problems = event.worker.result
            self.changes, self.left_off = list(reversed(merged.changes)), merged.left_off
            self.reading = False
            self._show()
        elif event.state is WorkerState.ERROR and event.worker.error is not None:
            title, message = describe(event.worker.error)
            self.notify(literal(message), title=title, severity="error", markup=False)

    def _show(self) -> None:
        shown = self.query_one(ChangeList)
        keep = shown.highlighted or 0
        widths = (
            max((cell_len(literal(c.fleet)) for c in self.changes), default=0),
            min(WHO_WIDTH, max((cell_len(literal(c.who)) for c in self.changes), default=0)),
        )
        shown.clear_options()
        shown.add_options(
            [Option(change_line(c, widths, self.tz), id=str(n)) for n, c in enumerate(self.changes)]
        )
        if self.changes:
            shown.highlighted = min(keep, len(self.changes) - 1)
        self._title()

    def _title(self) -> None:
        label, _ = SINCE[self.since]
        self.query_one("#changes").border_title = f"what changed · last {label}"
        line = Text.assemble((" Molt ", "bold reverse"), "  ", ("what changed", "bold"), " · ")
        if self.reading:
            line.append(f"reading {counted(len(self.sessions), 'journal')}…")
        else:
            line.append(f"{counted(len(self.changes), 'change')} in the last {label}")
            if self.left_off:
                line.append(f" (the newest; {self.left_off} older left out)", "dim")
        for name, problem in sorted(self.problems.items()):
            line.append(f" · ✖ {literal(name)}: {literal(problem)}", "bold red")
        self.query_one("#changes-title", Static).update(line)

    # the keys: each row of tui/actions.py runs one of these ------------------------------
    def action_select(self, step: int) -> None:
        shown = self.query_one(ChangeList)
        if step < 0:
            shown.action_cursor_up()
        else:
            shown.action_cursor_down()

    def action_since(self, step: int) -> None:
        wanted = max(0, min(len(SINCE) - 1, self.since + step))
        if wanted != self.since:
            self.since, self.reading = wanted, True
            self._title()
            self._read()

    def action_open(self) -> None:
        highlighted = self.query_one(ChangeList).highlighted
        if highlighted is not None:
            self._open(self.changes[highlighted])

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self._open(self.changes[event.option_index])

    def _open(self, change: Change) -> None:
        app = self.app
        if isinstance(app, OpensFleetsAt):
            app.open_fleet_at(change.fleet, change.generation)

    def action_back(self) -> None:
        self.dismiss()


async def _journal(session: FleetSession) -> tuple[list[JournalRecord], str]:
    """The fleet's journal, or why it could not be read in time ("" when it could)."""
    try:
        async with asyncio.timeout(DEADLINE):
            return await session.history(), ""
    except TimeoutError:
        return [], f"no answer in {DEADLINE:g} s"
    except Exception as error:  # a fleet that cannot be read is named, never raised
        title, message = describe(error)
        return [], f"{title}: {message}"
