"""The live event stream: health transitions, operator actions, differences found,
newest first. Drawn from the typed events' fields; the text is only shown, never parsed.

A ``ScrollView`` drawn with the Line API and an LRU cache of ``Strip``s (after
toolong's ``log_lines.py``), so thousands of events cost no more than a screenful.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import tzinfo
from itertools import count

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from backends.core.events import Event, EventKind, HealthChanged, InstanceRestarted, TrafficCrossed
from backends.core.model import Health
from tui.formatting import clock_time, event_mark, event_matches, literal
from tui.throttle import Throttle

KEEP = 5000  # events kept in memory; older ones are in the journal and the backend's logs
RESIZES_PER_SECOND = 4  # growing the scroll range costs a layout pass and an extra frame
CACHED_LINES = 256  # rendered lines kept: a tall terminal's screenful and then some

KIND_CLASSES = {
    EventKind.ACTION: "events--action",
    EventKind.STATE: "events--state",
    EventKind.WEIGHTS: "events--weights",
    EventKind.ERROR: "events--error",
    EventKind.DIFFERENCE: "events--difference",
    EventKind.TRAFFIC: "events--difference",  # a warning: worse than the baseline
}
HEALTH_CLASSES = {
    Health.HEALTHY: "events--healthy",
    Health.PENDING: "events--pending",
    Health.UNHEALTHY: "events--unhealthy",
    Health.GONE: "events--state",
}


def concerns(event: Event, generation: str | None) -> bool:
    """Is ``event`` about ``generation``: its own, or a shift that changed its weight?"""
    return generation is not None and event.concerns(generation)


def mark_class(event: Event) -> str:
    """The color of an event's glyph: a health event's says where the instance went."""
    if isinstance(event, HealthChanged):
        return HEALTH_CLASSES[event.after]
    if isinstance(event, InstanceRestarted):
        return "events--pending" if event.pid is not None else "events--unhealthy"
    if event.kind is EventKind.ACTION:
        return "events--marker"
    if isinstance(event, TrafficCrossed) and not event.worse:
        return "events--healthy"
    return KIND_CLASSES.get(event.kind, "events--state")


class EventLog(ScrollView):
    """Events, newest first, filterable; the selected generation's events stand out."""

    COMPONENT_CLASSES = {
        "events--time",
        "events--generation",
        "events--action",
        "events--state",
        "events--weights",
        "events--error",
        "events--difference",
        "events--healthy",
        "events--pending",
        "events--unhealthy",
        "events--highlight",
        "events--marker",
    }

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    EventLog > .events--time { color: $foreground-muted; }
    EventLog > .events--generation { color: $text-secondary; text-style: bold; }
    EventLog > .events--action { color: $foreground; text-style: bold; }
    EventLog > .events--state { color: $foreground; }
    EventLog > .events--weights { color: $primary; }
    EventLog > .events--error { color: $error; text-style: bold; }
    EventLog > .events--difference { color: $warning; text-style: bold; }
    EventLog > .events--healthy { color: $success; }
    EventLog > .events--pending { color: $warning; }
    EventLog > .events--unhealthy { color: $error; }
    EventLog > .events--highlight { background: $accent 15%; }
    EventLog > .events--marker { color: $accent; text-style: bold; }
    """

    can_focus = False

    filter_text: reactive[str] = reactive("")
    """Space-separated tokens; an event shows if it matches them all."""
    highlight: reactive[str | None] = reactive(None)
    """The selected generation, whose events stand out."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        super().__init__()
        self.tz = tz
        self._events: deque[tuple[int, Event]] = deque(maxlen=KEEP)  # oldest first
        self._visible: list[tuple[int, Event]] = []  # newest first
        self._numbers = count()
        self._cache: LRUCache[tuple[int, int, bool], Strip] = LRUCache(CACHED_LINES)
        self._styles: dict[tuple[str, bool], Style] = {}
        self._resizes = Throttle(self, 1 / RESIZES_PER_SECOND, self._resize_now)

    @property
    def visible_events(self) -> list[Event]:
        """What the operator can scroll through, newest first (tests read this)."""
        return [event for _, event in self._visible]

    def add_events(self, events: Iterable[Event], *, in_order: bool = False) -> None:
        """Append events as they arrive; ``in_order`` sorts a backlog (the journal) in."""
        numbered = [(next(self._numbers), e) for e in events]
        if not numbered:
            return
        if in_order:
            merged = sorted([*self._events, *numbered], key=lambda pair: pair[1].at)
            self._events = deque(merged, maxlen=KEEP)
            self._refilter()
            return
        self._events.extend(numbered)
        tokens = self.filter_text.split()
        fresh = [pair for pair in reversed(numbered) if event_matches(pair[1], tokens)]
        if fresh:
            self._visible = (fresh + self._visible)[:KEEP]
            if self.scroll_offset.y > 0:  # someone is reading older events: keep them still
                self.scroll_to(y=self.scroll_offset.y + len(fresh), animate=False)
            self.refresh()  # new events show at once; the scroll range follows soon after
            self._resizes.touch()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()  # a new theme: the cached lines and styles carry the old colors
        self._styles.clear()

    def watch_filter_text(self) -> None:
        self._refilter()

    def watch_highlight(self) -> None:
        self.refresh()

    def _refilter(self) -> None:
        tokens = self.filter_text.split()
        self._visible = [pair for pair in reversed(self._events) if event_matches(pair[1], tokens)]
        self.scroll_to(y=0, animate=False)
        self._resize_now()
        self.refresh()

    def _resize_now(self) -> None:
        """The scroll range follows the events (a layout pass when it changes, which
        stops once the log holds ``KEEP`` events; nothing when it does not)."""
        self.virtual_size = Size(self.size.width, len(self._visible))

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if index >= len(self._visible):
            return Strip.blank(width, self._style("", False))
        number, event = self._visible[index]
        lit = concerns(event, self.highlight)
        key = (number, width, lit)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_event(event, width, lit)
            self._cache[key] = strip
        return strip

    def _style(self, name: str, lit: bool) -> Style:
        style = self._styles.get((name, lit))
        if style is None:  # computing a component style walks the DOM: once per theme
            style = self.get_component_rich_style(name) if name else self.rich_style
            if lit:  # blended over the log's background, so a translucent tint stays subtle
                tint = self.get_component_rich_style("events--highlight")
                style += Style(bgcolor=tint.bgcolor)
            self._styles[(name, lit)] = style
        return style

    def _render_event(self, event: Event, width: int, lit: bool) -> Strip:
        # health: the glyph carries the color, the words stay calm; actions: bold
        text_class = "events--state" if event.kind is EventKind.HEALTH else mark_class(event)
        if event.kind is EventKind.ACTION:
            text_class = "events--action"
        segments = [
            Segment("▌" if lit else " ", self._style("events--marker", lit)),
            Segment(clock_time(event.at, self.tz) + " ", self._style("events--time", lit)),
            Segment(f"{event.generation or '':<4} ", self._style("events--generation", lit)),
            Segment(event_mark(event) + " ", self._style(mark_class(event), lit)),
            Segment(literal(event.text()), self._style(text_class, lit)),
        ]
        return Strip(segments).adjust_cell_length(width, self._style("events--state", lit))
