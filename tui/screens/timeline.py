"""``t``: what happened to the fleet, in time order — operator actions from the journal,
health incidents and traffic changes from the events this Molt saw — filterable as the
fleet view's events are (``/``, then ``g3``, ``g3-1``, ``alice``, ``unhealthy``…).

The merge is :func:`backends.core.report.timeline` (the same journal ``molt report`` reads);
this screen only draws it, with the Line API: a long journal costs a screenful.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, tzinfo

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from backends.core.events import Event, EventKind
from backends.core.journal import JournalRecord
from backends.core.report import Moment, MomentKind, noteworthy, timeline
from backends.engine.session import FleetSession
from backends.engine.updates import describe
from tui import actions, messages
from tui.formatting import counted, literal
from tui.throttle import Throttle
from tui.widgets.header import FleetHeader

MARKS = {
    MomentKind.ACTION: "»",
    MomentKind.HEALTH: "✖",
    MomentKind.TRAFFIC: "⇄",
    MomentKind.DRIFT: "✗",
}
RECOVERED = "✓"
WORSE = "⚑"
CACHED_LINES = 256
KEEP = 5000  # events kept; the journal's actions are all read
SHOWS_PER_SECOND = 5  # a burst of health events redraws the timeline a few times a second


def mark(moment: Moment) -> str:
    """The glyph in front of a moment, distinct in shape so it reads without color."""
    if moment.kind is MomentKind.HEALTH and not moment.alarm:
        return RECOVERED
    if moment.kind is MomentKind.TRAFFIC and moment.alarm:
        return WORSE
    return MARKS[moment.kind]


class TimelineView(ScrollView):
    """Moments, oldest first; the view keeps to the newest unless scrolled up."""

    COMPONENT_CLASSES = {
        "timeline--time",
        "timeline--generation",
        "timeline--who",
        "timeline--action",
        "timeline--health",
        "timeline--traffic",
        "timeline--alarm",
        "timeline--fine",
    }

    DEFAULT_CSS = """
    TimelineView {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    TimelineView > .timeline--time { color: $foreground-muted; }
    TimelineView > .timeline--generation { color: $text-secondary; text-style: bold; }
    TimelineView > .timeline--who { text-style: bold; }
    TimelineView > .timeline--action { color: $accent; text-style: bold; }
    TimelineView > .timeline--health { color: $warning; }
    TimelineView > .timeline--traffic { color: $primary; }
    TimelineView > .timeline--alarm { color: $error; text-style: bold; }
    TimelineView > .timeline--fine { color: $success; }
    """

    filter_text: reactive[str] = reactive("")
    """Space-separated tokens; a moment shows if it matches them all."""

    def __init__(self, tz: tzinfo | None = None, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.tz = tz
        self._moments: list[Moment] = []
        self._visible: list[Moment] = []
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(CACHED_LINES)

    @property
    def visible_moments(self) -> list[Moment]:
        """What the operator can scroll through, oldest first (tests read this)."""
        return list(self._visible)

    @property
    def total(self) -> int:
        """Moments before the filter."""
        return len(self._moments)

    def show(self, moments: list[Moment]) -> None:
        """All moments, merged already (each show replaces the last)."""
        self._moments = moments
        self._refilter()

    def watch_filter_text(self) -> None:
        self._refilter()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def _refilter(self) -> None:
        at_end = self.scroll_offset.y >= self.max_scroll_y
        tokens = self.filter_text.split()
        self._visible = [m for m in self._moments if m.matches(tokens)]
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._visible))
        if at_end:  # reading the newest: keep to it as the timeline grows
            self.call_after_refresh(self.scroll_end, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self._visible):
            return Strip.blank(width, self.rich_style)
        key = (index, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._render_moment(self._visible[index], width)
        return strip

    def _style(self, name: str) -> Style:
        return self.rich_style + self.get_component_rich_style(name, partial=True)

    def _render_moment(self, moment: Moment, width: int) -> Strip:
        kind = {
            MomentKind.ACTION: "timeline--action",
            MomentKind.HEALTH: "timeline--health",
            MomentKind.TRAFFIC: "timeline--traffic",
            MomentKind.DRIFT: "timeline--alarm",
        }[moment.kind]
        if moment.alarm:
            kind = "timeline--alarm"
        elif moment.kind is MomentKind.HEALTH:
            kind = "timeline--fine"
        generation = moment.generations[0] if len(moment.generations) == 1 else ""
        text = literal(moment.text)
        segments = [
            Segment(" " + self._time(moment.at) + " ", self._style("timeline--time")),
            Segment(mark(moment) + " ", self._style(kind)),
            Segment(f"{generation:<4} ", self._style("timeline--generation")),
        ]
        if moment.who:
            segments.append(Segment(literal(moment.who) + " ", self._style("timeline--who")))
        segments.append(Segment(text, self._style(kind) if moment.alarm else self.rich_style))
        return Strip(segments).adjust_cell_length(width, self.rich_style)

    def _time(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%m-%d %H:%M:%S")


class TimelineScreen(Screen[None]):
    """The fleet's timeline; follows the journal and the session's events while open.

    Args:
        session: the fleet's session.
        seen: the noteworthy events the fleet view saw before this opened.
        since: when the fleet view began watching (health is known from then on; the
            journal holds every action since the fleet began).
    """

    BINDINGS = actions.bindings("timeline")

    def __init__(
        self,
        session: FleetSession,
        seen: Iterable[Event] = (),
        *,
        since: datetime | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        super().__init__()
        self.session, self.since, self.tz = session, since, tz
        self.events: deque[Event] = deque((e for e in seen if noteworthy(e)), maxlen=KEEP)
        self.records: list[JournalRecord] = []
        self.problem = ""
        self._shows = Throttle(self, 1 / SHOWS_PER_SECOND, self._show)

    def compose(self) -> ComposeResult:
        header = FleetHeader()
        header.show_session(self.session)
        yield header
        yield Static(id="timeline-title")
        with Vertical(id="timeline"):
            yield TimelineView(self.tz, id="moments")
            yield Input(
                placeholder="filter: text, g3, g3-1, alice — enter keeps it, escape clears",
                id="timeline-filter",
            )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#timeline").border_title = "timeline"
        self._show()
        self._read_journal()

    def on_unmount(self) -> None:
        self._shows.cancel()

    @on(messages.EventsArrived)
    def _events_arrived(self, message: messages.EventsArrived) -> None:
        if any(e.kind is EventKind.ACTION for e in message.events):
            self._read_journal()  # the journal is the truth of actions
        fresh = [e for e in message.events if e.kind is not EventKind.ACTION and noteworthy(e)]
        if fresh:
            self.events.extend(fresh)
            self._shows.touch()

    @work(exclusive=True, group="timeline-journal", exit_on_error=False)
    async def _read_journal(self) -> list[JournalRecord]:
        return await self.session.history()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.SUCCESS:
            self.records, self.problem = list(event.worker.result or []), ""
            self._show()
        elif event.state is WorkerState.ERROR and event.worker.error is not None:
            title, message = describe(event.worker.error)
            self.problem = f"{title}: {message}"
            self._show()

    def _show(self) -> None:
        view = self.query_one(TimelineView)
        view.show(timeline(self.records, self.events))
        line = Text.assemble((f" {literal(self.session.name)} timeline ", "bold reverse"), "  ")
        if self.problem:
            line.append(f"⚠ journal: {literal(self.problem)}", "bold red")
        else:
            shown, total = len(view.visible_moments), view.total
            line.append(f"{shown} of {total}" if view.filter_text else counted(total, "moment"))
            if self.since is not None:
                since = self.since.astimezone(self.tz).strftime("%m-%d %H:%M:%S")
                line.append(f" · health and traffic seen since {since}", "dim")
        self.query_one("#timeline-title", Static).update(line)

    # filtering, as in the fleet view -------------------------------------------------------
    def action_filter(self) -> None:
        field = self.query_one("#timeline-filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#timeline-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(TimelineView).filter_text = event.value
        box = self.query_one("#timeline")
        box.border_title = f"timeline · filter: {event.value}" if event.value else "timeline"
        self._show()

    @on(Input.Submitted, "#timeline-filter")
    def _filter_kept(self) -> None:
        self._close_filter()

    def action_back(self) -> None:
        field = self.query_one("#timeline-filter", Input)
        if field.has_focus:  # escape in the filter clears it, as in the fleet view
            field.value = ""
            self._close_filter()
            return
        self.dismiss()

    def _close_filter(self) -> None:
        self.query_one("#timeline-filter").display = False
        self.query_one(TimelineView).focus()  # arrows and page keys scroll it
