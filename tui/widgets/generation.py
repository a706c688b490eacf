"""One generation as a column: id, version, age, state, weight bar, health glyphs, what
real requests see (a traffic line and sparklines), a flag when it does worse than its
baseline, the fleet's rollout when it concerns it, and the note.

Drawn with the Line API: the glyph grid of hundreds of instances is a handful of
``Strip``s, not one widget per instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import groupby
from operator import attrgetter

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.dom import NoScreen
from textual.errors import NoWidget
from textual.events import Click
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from backends.core.model import Generation, GenerationState, Health, utcnow
from tui.formatting import GLYPHS, age, counts_summary, literal
from tui.rollout_view import RolloutView
from tui.widgets.column_rows import Row, marks_rows, traffic_rows, wrap_rollout

STATE_CLASSES = {
    GenerationState.LIVE: "generation--live",
    GenerationState.HEALTHY: "generation--ok",
    GenerationState.LAUNCHING: "generation--waiting",
    GenerationState.DEGRADED: "generation--warning",
    GenerationState.FAILED: "generation--failed",
    GenerationState.DRAINING: "generation--muted",
    GenerationState.RETIRED: "generation--muted",
}
HEALTH_CLASSES = {
    Health.HEALTHY: "generation--ok",
    Health.PENDING: "generation--waiting",
    Health.UNHEALTHY: "generation--failed",
    Health.GONE: "generation--muted",
}
HEALTH_OF = attrgetter("health")
PLAIN = "│┌┐└┘─"
HEAVY = "┃┏┓┗┛━"  # the selected column: a different line, so it shows without color


class GenerationColumn(Widget):
    """A generation's column in the fleet view."""

    COMPONENT_CLASSES = {
        "generation--border",
        "generation--selected",
        "generation--title",
        "generation--live",
        "generation--ok",
        "generation--waiting",
        "generation--warning",
        "generation--failed",
        "generation--muted",
        "generation--bar",
        "generation--bar-empty",
        "generation--bar-gain",
        "generation--bar-loss",
        "generation--note",
    }

    DEFAULT_CSS = """
    GenerationColumn {
        width: 32;
        height: 1fr;
    }
    GenerationColumn > .generation--border { color: $foreground-muted; }
    GenerationColumn > .generation--selected { color: $accent; text-style: bold; }
    GenerationColumn > .generation--title { text-style: bold; }
    GenerationColumn > .generation--live { color: $success; text-style: bold; }
    GenerationColumn > .generation--ok { color: $success; }
    GenerationColumn > .generation--waiting { color: $warning; }
    GenerationColumn > .generation--warning { color: $warning; text-style: bold; }
    GenerationColumn > .generation--failed { color: $error; text-style: bold; }
    GenerationColumn > .generation--muted { color: $foreground-muted; }
    GenerationColumn > .generation--bar { color: $primary; }
    GenerationColumn > .generation--bar-empty { color: $foreground-muted 40%; }
    GenerationColumn > .generation--bar-gain { color: $success; }
    GenerationColumn > .generation--bar-loss { color: $warning; }
    GenerationColumn > .generation--note { color: $foreground-muted; text-style: italic; }
    """

    class Clicked(Message):
        """The operator clicked a column: select its generation."""

        def __init__(self, generation_id: str) -> None:
            super().__init__()
            self.generation_id = generation_id

    def __init__(self, generation: Generation, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(id=f"generation-{generation.id}")
        self.generation = generation
        self.clock = clock
        self.selected = False
        self.staged_weight: int | None = None
        self.findings: tuple[str, ...] = ()
        self.rollout: RolloutView | None = None
        self._view: tuple[object, ...] = ()
        self._lines: list[Strip] | None = None
        self._summary = counts_summary(generation)
        self._healths: tuple[Health, ...] = tuple(map(HEALTH_OF, generation.instances))
        self._base: Style | None = None  # the widget's own style: until the theme changes
        self._styles: dict[str, Style] = {}
        self._lower: tuple[tuple[object, ...], list[Row]] = ((), [])  # (what they show, rows)

    def show(
        self,
        generation: Generation,
        *,
        selected: bool,
        staged_weight: int | None,
        findings: tuple[str, ...] = (),
        rollout: RolloutView | None = None,
    ) -> None:
        """Draw ``generation`` (a newer read of it); repaint only if what shows changed.

        Args:
            findings: what it does worse than its baseline (``5xx 31% vs 0.1% on g1``).
            rollout: what it shows of the fleet's rollout (its own, or as the baseline).
        """
        if generation is not self.generation:
            self._healths = tuple(map(HEALTH_OF, generation.instances))
        self.generation, self.selected, self.staged_weight = generation, selected, staged_weight
        self.findings, self.rollout = findings, rollout
        traffic = generation.traffic
        history = traffic.history if traffic is not None else None
        view = (
            generation.version,
            generation.state,
            generation.weight,
            generation.note,
            self._healths,
            selected,
            staged_weight,
            age(generation.launched_at, self.clock()),
            traffic,  # its history compares apart: Traffic leaves it out of ==
            (history.rps, history.error_rate) if history is not None else None,
            findings,
            rollout,
            generation.drift,
            generation.rebuild_due,
        )
        if view != self._view:
            if not self._view or self._healths != self._view[4]:
                self._summary = counts_summary(generation, self._healths)
            self._view = view
            self._repaint()

    def _repaint(self) -> None:
        """Refresh only the lines that changed: between two reads of a busy fleet a few
        glyph rows change, not the whole column. Off screen, draw it when it shows."""
        old, self._lines = self._lines, None
        width, height = self.size
        if old is None or len(old) != height or not self._on_screen():
            self.refresh()
            return
        self._lines = new = self._render_all(width, height)
        changed = [y for y, (was, now) in enumerate(zip(old, new, strict=True)) if was != now]
        if len(changed) > height // 2:
            self.refresh()
        elif changed:
            self.refresh(*(Region(0, y, width, 1) for y in changed))

    def _on_screen(self) -> bool:
        try:
            geometry = self.screen.find_widget(self)
        except (NoScreen, NoWidget):
            return False
        return geometry.region.overlaps(geometry.clip)

    def needed_height(self, width: int) -> int:
        """Rows to show every instance at ``width`` (the strip grows to fit, up to a cap)."""
        g, inner = self.generation, max(1, width - 4)
        footer = len(self._lower_rows(inner)) + bool(g.note) + bool(g.launched_by)
        if not g.instances or self._one_line(inner):
            body = 3
        else:
            body = 2 + -(-len(g.instances) // inner) + 1
        return 2 + body + footer

    def _one_line(self, inner: int) -> bool:
        """A few instances: glyphs and their count fit on one line, as in the sketch."""
        return len(self.generation.instances) + 2 + len(self._summary) <= inner

    def on_resize(self) -> None:
        self._lines = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines, self._base = None, None  # a new theme: cached lines and styles are stale

    def on_click(self, event: Click) -> None:
        self.post_message(self.Clicked(self.generation.id))

    @property
    def base_style(self) -> Style:
        if self._base is None:  # rich_style walks the ancestors: once per theme, not per paint
            self._base, self._styles = self.rich_style, {}
        return self._base

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            base = self.base_style
            style = self._styles[name] = base + self.get_component_rich_style(name, partial=True)
        return style

    def render_line(self, y: int) -> Strip:
        if self._lines is None or len(self._lines) != self.size.height:
            self._lines = self._render_all(self.size.width, self.size.height)
        return self._lines[y] if y < len(self._lines) else Strip.blank(self.size.width)

    def _render_all(self, width: int, height: int) -> list[Strip]:
        base = self.base_style
        if width < 8 or height < 3:
            return [Strip.blank(width, base)] * height
        inner = width - 4
        rows = self._content(inner, height - 2)
        chars = HEAVY if self.selected else PLAIN
        edge = self._style("generation--selected" if self.selected else "generation--border")
        left, right = Segment(chars[0] + " ", edge), Segment(" " + chars[0], edge)
        lines = [self._top(width, chars, edge)]
        for row in rows:  # one Strip per line: building Strips is most of the cost
            length = sum(segment.cell_length for segment in row)
            if length > inner:
                row, length = list(Strip(row).crop(0, inner)), inner
            pad = [Segment(" " * (inner - length), base)] if length < inner else []
            lines.append(Strip([left, *row, *pad, right], width))
        lines.append(Strip([Segment(chars[3] + chars[5] * (width - 2) + chars[4], edge)], width))
        return lines

    def _top(self, width: int, chars: str, edge: Style) -> Strip:
        g = self.generation
        title = _truncate(f" {g.id}  {literal(g.version)} ", width - 2)
        when = f" {age(g.launched_at, self.clock())} "
        fill = width - 2 - cell_len(title) - len(when)
        if fill < 1:
            when, fill = "", max(0, width - 2 - cell_len(title))
        segments = [
            Segment(chars[1], edge),
            Segment(title, self._style("generation--title")),
            Segment(chars[5] * fill, edge),
            Segment(when, edge),
            Segment(chars[2], edge),
        ]
        strip = Strip(segments)
        return strip if strip.cell_length == width else strip.crop(0, width)

    def _lower_rows(self, inner: int) -> list[Row]:
        """Taint and age, traffic, the flag, the rollout: below the glyphs, above the
        note. Kept until what they show changes: health moves many times a second,
        traffic once in a while, and the sparklines cost more than the rest of the column."""
        g = self.generation
        traffic = g.traffic
        history = traffic.history if traffic is not None else None
        key = (inner, traffic, history, self.findings, self.rollout, g.drift, g.rebuild_due)
        if key != self._lower[0]:
            rows = marks_rows(g, inner) + traffic_rows(g, self.findings, inner)
            self._lower = key, rows + wrap_rollout(self.rollout, inner)
        return self._lower[1]

    def _spans(self, row: Row) -> list[Segment]:
        base = self.base_style
        return [Segment(text, self._style(name) if name else base) for text, name in row if text]

    def _content(self, inner: int, height: int) -> list[list[Segment]]:
        g = self.generation
        rows = [self._state_row(inner), self._bar(inner)]
        summary, base = self._summary, self.base_style
        footer = [self._spans(row) for row in self._lower_rows(inner)]
        if g.note:
            note = _truncate(f"“{literal(g.note)}”", inner)
            footer.append([Segment(note, self._style("generation--note"))])
        if g.launched_by:
            by = _truncate(f"by {literal(g.launched_by)}", inner)
            footer.append([Segment(by, self._style("generation--muted"))])
        if g.instances and self._one_line(inner):
            glyphs = self._glyph_run(self._healths)
            rows.append([*glyphs, Segment("  " + summary, base)])
        else:
            grid_rows = max(1, height - len(rows) - len(footer) - 1)
            rows.extend(self._grid(inner, grid_rows))
            rows.append([Segment(summary, base)])
        rows.extend(footer)
        return (rows + [[]] * height)[:height]

    def _state_row(self, inner: int) -> list[Segment]:
        g = self.generation
        weight = f"weight {g.weight}%"
        if self.staged_weight is not None and self.staged_weight != g.weight:
            weight = f"weight {g.weight}% → {self.staged_weight}%"
        state = g.state.value.upper()
        gap = max(1, inner - len(state) - len(weight))
        return [
            Segment(state, self._style(STATE_CLASSES[g.state])),
            Segment(" " * gap, self.base_style),
            Segment(weight, self._style("generation--title")),
        ]

    def _bar(self, inner: int) -> list[Segment]:
        """Live weight as █; a staged gain as ▓, a staged loss as ▒; the rest ░."""
        now = round(self.generation.weight * inner / 100)
        staged = now if self.staged_weight is None else round(self.staged_weight * inner / 100)
        kept = min(now, staged)
        parts = [
            ("█" * kept, "generation--bar"),
            ("▓" * (staged - kept), "generation--bar-gain"),
            ("▒" * (now - kept), "generation--bar-loss"),
            ("░" * (inner - max(now, staged)), "generation--bar-empty"),
        ]
        return [Segment(text, self._style(name)) for text, name in parts if text]

    def _grid(self, inner: int, rows: int) -> list[list[Segment]]:
        healths = list(self._healths)
        if not healths:
            return [[Segment("starting…", self._style("generation--waiting"))]]
        capacity = inner * rows
        hidden = 0
        if len(healths) > capacity:  # the counts below still summarise every instance
            shown = max(0, capacity - len(f" +{len(healths)}"))
            hidden = len(healths) - shown
            healths = healths[:shown]
            more = f" +{hidden}"
        grid = [self._glyph_run(healths[i : i + inner]) for i in range(0, len(healths), inner)]
        grid = grid or [[]]
        if hidden:
            grid[-1].append(Segment(more, self._style("generation--muted")))
        return grid

    def _glyph_run(self, healths: Sequence[Health]) -> list[Segment]:
        return [
            Segment(GLYPHS[health] * len(list(run)), self._style(HEALTH_CLASSES[health]))
            for health, run in groupby(healths)
        ]


def _truncate(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells (wide characters count twice), cut with ``…``."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)).rstrip() + "…"
