"""The estate's table: one row per fleet, any backend mixed — its live generations and
weights, healthy instances, traffic with a sparkline, rollout and last change — and under
a row, in words, what needs an operator there (unreachable: why and since when).

Drawn with the Line API (one ``Strip`` per line, cached), the headings on the first line
staying put while the rows scroll. The cells are pure functions of a
:class:`~backends.core.estate.FleetSummary` and the time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from backends.core.estate import FleetSummary
from backends.core.model import FleetSnapshot, Health
from backends.core.rollout import Rollout, RolloutState
from backends.core.traffic import combine, ms_text, percent_text
from tui.formatting import clock_time, literal
from tui.sparkline import sparkline
from tui.widgets.column_rows import fit

HEADINGS = ("fleet", "backend", "live", "healthy", "req/s", "5xx", "p99", "trend", "rollout",
            "changed")  # fmt: skip
FIXED = {"healthy": 7, "req/s": 6, "5xx": 5, "p99": 7, "trend": 10, "rollout": 13, "changed": 7}
NUMBERS = {"healthy", "req/s", "5xx", "p99", "changed"}  # right-aligned
ATTENTION = "⚠"
UNREACHABLE = "✖"
CACHED_LINES = 256


@dataclass(frozen=True, slots=True)
class Row:
    """What one fleet's row says: the cells by heading, then its attention lines."""

    name: str
    cells: dict[str, str]
    notes: tuple[tuple[str, str], ...]  # (text, tone): tone "unreachable" or "attention"
    tone: str = ""  # "muted": not read yet, or unreachable (what shows is old news)
    rps: tuple[float, ...] = ()  # the sparkline's samples

    def matches(self, tokens: Sequence[str]) -> bool:
        """Every token in the row's words (name, backend, versions, attention)."""
        words = " ".join([*self.cells.values(), *(text for text, _ in self.notes)]).lower()
        return all(token.lower() in words for token in tokens)


def live_text(snapshot: FleetSnapshot) -> str:
    """``g7 v42 90% · g8 v43 10%``: the generations carrying traffic, most first."""
    weighted = sorted((g for g in snapshot.generations if g.weight), key=lambda g: -g.weight)
    if not weighted:
        return "no traffic" if snapshot.generations else "no generations"
    return " · ".join(f"{g.id} {literal(g.version)} {g.weight}%" for g in weighted)


def healthy_text(snapshot: FleetSnapshot) -> str:
    instances = [i for g in snapshot.generations for i in g.instances]
    healthy = sum(1 for i in instances if i.health is Health.HEALTHY)
    return f"{healthy}/{len(instances)}"


def rollout_text(rollout: Rollout | None) -> str:
    """``2/4 running`` (steps done of the plan's), ``done``, ``aborted`` or ``—``."""
    if rollout is None:
        return "—"
    if rollout.state in (RolloutState.DONE, RolloutState.ABORTED):
        return f"{rollout.generation} {rollout.state.value}"
    return f"{rollout.step}/{len(rollout.plan.steps)} {rollout.state.value}"


def ago(moment: datetime | None, now: datetime) -> str:
    """``40s``, ``3m``, ``2h``, ``5d`` (never negative when clocks disagree)."""
    if moment is None:
        return "—"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def row_of(
    summary: FleetSummary, now: datetime, tz: tzinfo | None = None, preparing: str = ""
) -> Row:
    """The row of one fleet, at ``now``; ``preparing``: a demo fleet's first launch, in
    words, shown in place of its (not yet) live generations."""
    cells = dict.fromkeys(HEADINGS, "")
    cells["fleet"], cells["backend"] = literal(summary.name), literal(summary.backend)
    snapshot = summary.snapshot
    if snapshot is None:
        cells["live"] = "reading…" if summary.reachable else "never read"
    else:
        cells["live"], cells["healthy"] = live_text(snapshot), healthy_text(snapshot)
        traffic = combine([g.traffic for g in snapshot.generations], snapshot.taken_at)
        cells["req/s"] = cells["5xx"] = cells["p99"] = "—"
        if traffic is not None:
            rps = traffic.rps
            cells["req/s"] = "—" if rps is None else f"{rps:.0f}" if rps >= 10 else f"{rps:.1f}"
            cells["5xx"] = percent_text(traffic.error_rate)
            cells["p99"] = ms_text(traffic.p99_ms).replace(" ", "")
    if preparing and (snapshot is None or not snapshot.generations):
        cells["live"] = literal(preparing)
    cells["rollout"] = rollout_text(summary.rollout)
    cells["changed"] = ago(summary.last_change, now)
    notes: list[tuple[str, str]] = []
    if not summary.reachable:
        when = ""
        if summary.since is not None:
            when = f" since {clock_time(summary.since, tz)} ({ago(summary.since, now)})"
        why = literal(summary.problem) or "no answer"
        notes.append((f"{UNREACHABLE} unreachable{when}: {why}", "unreachable"))
    said = [literal(a) for a in summary.attention if not a.startswith("unreachable")]
    if said:
        notes.append((f"{ATTENTION} " + " · ".join(said), "attention"))
    fresh = summary.reachable and snapshot is not None
    return Row(summary.name, cells, tuple(notes), "" if fresh else "muted", summary.rps)


def widths(rows: Sequence[Row], width: int) -> dict[str, int]:
    """Each heading's cells: fixed ones, the name and backend as long as needed (within
    bounds), and ``live`` the rest; one space between cells, one at the left."""
    made = dict(FIXED)
    for heading, low, high in (("fleet", 5, 20), ("backend", 7, 9)):
        longest = max((cell_len(r.cells[heading]) for r in rows), default=0)
        made[heading] = max(low, min(high, longest))
    used = sum(made.values()) + len(HEADINGS)
    longest = max((cell_len(r.cells["live"]) for r in rows), default=0)
    made["live"] = max(8, min(longest, width - used))  # what is left stays blank at the right
    return made


def line_parts(cells: dict[str, str], sizes: dict[str, int]) -> list[str]:
    """Each cell fitted to its width (numbers to the right), in heading order."""
    parts = []
    for heading in HEADINGS:
        text = fit(cells[heading], sizes[heading])
        pad = " " * (sizes[heading] - cell_len(text))
        parts.append(pad + text if heading in NUMBERS else text + pad)
    return parts


def line_cells(cells: dict[str, str], sizes: dict[str, int]) -> str:
    """One line of cells, one space at the left and between them."""
    return " " + " ".join(line_parts(cells, sizes))


class EstateTable(ScrollView, can_focus=False):
    """Fleets, in the order given (the screen sorts them with
    :func:`backends.core.estate.order`); the selection follows its fleet's name.

    Args:
        clock: the time ages are counted to.
        tz: the time zone "since" times are shown in.
    """

    COMPONENT_CLASSES = {
        "estate--heading",
        "estate--cursor",
        "estate--attention",
        "estate--unreachable",
        "estate--muted",
        "estate--trend",
    }

    DEFAULT_CSS = """
    EstateTable { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    EstateTable > .estate--heading { color: $foreground-muted; text-style: bold; }
    EstateTable > .estate--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    EstateTable > .estate--attention { color: $warning; }
    EstateTable > .estate--unreachable { color: $error; text-style: bold; }
    EstateTable > .estate--muted { color: $foreground-muted; }
    EstateTable > .estate--trend { color: $primary; }
    """

    filter_text: reactive[str] = reactive("")
    """Space-separated tokens; a fleet shows when its row has them all."""
    selected: reactive[str | None] = reactive(None)
    """The selected fleet's name."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
        *,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(id=id)
        self.clock, self.tz = clock, tz
        self._summaries: list[FleetSummary] = []
        self._preparing: dict[str, str] = {}
        self._rows: list[Row] = []
        self._lines: list[tuple[int, int]] = []  # (row index, note index or -1)
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(CACHED_LINES)
        self._chosen = False  # the operator picked a row: it stays selected as rows move
        self._widths: tuple[int, dict[str, int]] | None = None

    @property
    def shown(self) -> list[str]:
        """The fleets on screen, top first (tests read this)."""
        return [row.name for row in self._rows]

    def row(self, name: str) -> Row | None:
        return next((r for r in self._rows if r.name == name), None)

    def show(
        self, summaries: Sequence[FleetSummary], preparing: Mapping[str, str] | None = None
    ) -> None:
        """Every fleet's summary, in the order to show them; ``preparing``: fleet → its
        first launch in words (the built-in demo's), while it goes on."""
        self._summaries, self._preparing = list(summaries), dict(preparing or {})
        self._rebuild()

    def watch_filter_text(self) -> None:
        self._rebuild()

    def watch_selected(self, was: str | None, now: str | None) -> None:
        # only the two rows the cursor leaves and enters are drawn again: a key held down
        # on a long estate must not redraw every row at each step
        width = self.scrollable_content_region.width
        for line, (index, _) in enumerate(self._lines):
            if self._rows[index].name in (was, now):
                self._cache.discard((line, width))
                self.refresh_lines(line + 1)  # line 0 is the headings
        self._keep_selection_visible()

    def choose(self, name: str) -> None:
        """Select ``name`` as the operator's choice: it stays selected as rows move."""
        self._chosen, self.selected = True, name

    def move(self, step: int) -> None:
        names = self.shown
        if not names:
            return
        index = names.index(self.selected) if self.selected in names else 0
        self.choose(names[max(0, min(len(names) - 1, index + step))])

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        now, tokens = self.clock(), self.filter_text.split()
        rows = [row_of(s, now, self.tz, self._preparing.get(s.name, "")) for s in self._summaries]
        self._rows = [r for r in rows if r.matches(tokens)]
        self._widths = None
        self._lines = [
            (index, note) for index, row in enumerate(self._rows)
            for note in range(-1, len(row.notes))
        ]  # fmt: skip
        names = self.shown
        if self.selected not in names or not self._chosen:  # the top row, until one is picked
            self.selected = names[0] if names else None
        self._cache.clear()
        self.virtual_size = Size(self.size.width, len(self._lines) + 1)
        self._keep_selection_visible()
        self.refresh()

    def _keep_selection_visible(self) -> None:
        lines = [
            n for n, (index, _) in enumerate(self._lines) if self._rows[index].name == self.selected
        ]
        if lines:
            self.scroll_to_region(
                Region(0, lines[0] + 1, 1, len(lines)), animate=False, spacing=None, force=True
            )

    def on_click(self, event: events.Click) -> None:
        line = self.scroll_offset.y + event.y - 1
        if 0 <= line < len(self._lines):
            self.choose(self._rows[self._lines[line][0]].name)

    def _sizes(self, width: int) -> dict[str, int]:
        """The cells' widths for these rows at ``width`` (worked out once per rebuild)."""
        if self._widths is None or self._widths[0] != width:
            self._widths = (width, widths(self._rows, width))
        return self._widths[1]

    def _style(self, name: str) -> Style:
        return self.rich_style + self.get_component_rich_style(name, partial=True)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:  # the headings stay put
            sizes = self._sizes(width)
            text = line_cells({h: h for h in HEADINGS}, sizes)
            return Strip([Segment(text, self._style("estate--heading"))]).adjust_cell_length(
                width, self.rich_style
            )
        line = self.scroll_offset.y + y - 1
        if line >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        key = (line, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._render_row(*self._lines[line], width)
        return strip

    def _render_row(self, index: int, note: int, width: int) -> Strip:
        row = self._rows[index]
        base = self.rich_style
        if row.name == self.selected:
            base = base + self.get_component_rich_style("estate--cursor", partial=True)
        if note >= 0:
            text, tone = row.notes[note]
            tone_style = self.get_component_rich_style(f"estate--{tone}", partial=True)
            segments = [Segment("   " + fit(text, max(1, width - 4)), base + tone_style)]
            return Strip(segments).adjust_cell_length(width, base)
        sizes = self._sizes(width)
        cells = dict(row.cells)
        # a fleet with no requests at all shows no line (not a floor that reads as one)
        cells["trend"] = sparkline(list(row.rps), sizes["trend"]) if any(row.rps) else ""
        style = base
        if row.tone:  # not read yet, or unreachable: what shows is old news
            style = base + self.get_component_rich_style("estate--muted", partial=True)
        trend = base + self.get_component_rich_style("estate--trend", partial=True)
        if row.name == self.selected:
            trend = style  # the cursor's colors: a colored line would vanish in them
        segments = [Segment(" ", style)]
        for heading, part in zip(HEADINGS, line_parts(cells, sizes), strict=True):
            segments.append(Segment(part, trend if heading == "trend" else style))
            segments.append(Segment(" ", style))
        return Strip(segments).adjust_cell_length(width, base)
