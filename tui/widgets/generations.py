"""The fleet's generations side by side, oldest left, newest right."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import HorizontalScroll
from textual.reactive import reactive
from textual.widgets import Static

from backends.core.baseline import worse_than_baseline
from backends.core.model import FleetSnapshot, utcnow
from backends.core.rollout import Rollout
from tui.rollout_view import rollout_view
from tui.widgets.generation import GenerationColumn

MIN_COLUMN_WIDTH = 30
MAX_COLUMN_WIDTH = 60  # one generation alone reads better as a column than a banner
REVEAL_TRIES = 5  # refreshes to wait for a new or resized column's layout


class GenerationStrip(HorizontalScroll):
    """One :class:`GenerationColumn` per generation, updated in place (keyed by id);
    scrolls horizontally when they do not fit."""

    DEFAULT_CSS = """
    GenerationStrip {
        height: 7;
        min-height: 7;
        max-height: 60%;
        scrollbar-size-horizontal: 1;
    }
    GenerationStrip > #placeholder {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        color: $foreground-muted;
    }
    """

    can_focus = False

    # repaint=False: the columns repaint themselves, only when what they show changed
    snapshot: reactive[FleetSnapshot | None] = reactive(None, repaint=False)
    """The fleet as last read (pushed down by the screen)."""
    selected: reactive[str | None] = reactive(None, repaint=False)
    """The selected generation's id."""
    staged: reactive[dict[str, int] | None] = reactive(None, repaint=False)
    """Weights of a staged, not yet applied, shift."""
    rollout: reactive[Rollout | None] = reactive(None, repaint=False)
    """The fleet's rollout as its truth tells it (running, paused, ended…), or None."""
    placeholder: reactive[str] = reactive("reading the fleet…")
    """What shows while there is no generation."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__()
        self.clock = clock
        self._columns: dict[str, GenerationColumn] = {}  # by generation id, oldest first
        self._judged: tuple[FleetSnapshot | None, dict[str, tuple[str, ...]]] = (None, {})

    def compose(self) -> ComposeResult:
        yield Static(self.placeholder, id="placeholder")

    def watch_placeholder(self, text: str) -> None:
        if self.is_mounted:
            self.query_one("#placeholder", Static).update(text)

    def watch_snapshot(self) -> None:
        self._sync()

    def watch_selected(self) -> None:
        self._sync()
        self._reveal_soon()

    def _reveal_soon(self, tries: int = REVEAL_TRIES) -> None:
        """Scroll the selected column fully into view once it is laid out: a launch
        mounts it, a resize moves it, and +/enter must act on a column one can see."""
        self.call_after_refresh(self._reveal, tries)

    def _reveal(self, tries: int = REVEAL_TRIES) -> None:
        column = self.column(self.selected)
        if column is None or not column.is_mounted:
            return
        wanted = column.styles.width
        if not column.region.width or (wanted is not None and column.size.width != wanted.value):
            if tries:  # not laid out at its width yet: after the next refresh
                self._reveal_soon(tries - 1)
            return
        self.scroll_to_widget(column, animate=False, immediate=True)
        column.refresh()  # drawn whole where it lands, not only the rows that changed

    def watch_staged(self) -> None:
        self._sync()

    def watch_rollout(self) -> None:
        self._sync()

    def column(self, generation_id: str | None) -> GenerationColumn | None:
        return self._columns.get(generation_id) if generation_id else None

    def refresh_ages(self) -> None:
        """Ages ("3 minutes ago") and a rollout's bake time move on with the clock;
        columns repaint when theirs does."""
        self._sync()

    def _sync(self) -> None:
        if not self.is_mounted:
            return
        snapshot = self.snapshot
        generations = snapshot.generations if snapshot else ()
        wanted = {g.id for g in generations}
        for generation_id in [g for g in self._columns if g not in wanted]:
            self._columns.pop(generation_id).remove()
        fresh = []
        now = self.clock()
        for generation in generations:
            column = self._columns.get(generation.id)
            if column is None:
                column = self._columns[generation.id] = GenerationColumn(generation, self.clock)
                fresh.append(column)
            staged = self.staged.get(generation.id) if self.staged else None
            column.show(
                generation,
                selected=generation.id == self.selected,
                staged_weight=staged,
                findings=self._findings(snapshot).get(generation.id, ()),
                rollout=rollout_view(self.rollout, snapshot, generation.id, now),
            )
        if fresh:  # ids only grow, so new generations are the newest: they go right
            self.mount_all(fresh)
            self._reveal_soon()
        self.query_one("#placeholder").display = not generations
        self._size_columns(len(generations))

    def _findings(self, snapshot: FleetSnapshot | None) -> dict[str, tuple[str, ...]]:
        """What each generation does worse than its baseline, judged once per read (a
        key press redraws the columns; it changes no traffic)."""
        if snapshot is None:
            return {}
        if self._judged[0] is not snapshot:
            judged = {
                g.id: tuple(worse_than_baseline(snapshot, g.id)) for g in snapshot.generations
            }
            self._judged = snapshot, judged
        return self._judged[1]

    def on_resize(self) -> None:
        self._size_columns(len(self.snapshot.generations) if self.snapshot else 0)
        self._reveal_soon()

    def _size_columns(self, count: int) -> None:
        """Share the width between columns (below the minimum, scroll instead); grow
        tall enough for the largest generation's glyphs (CSS caps it)."""
        if not count or not self.size.width:
            return
        base, extra = divmod(self.size.width, count)
        height = 0
        for index, column in enumerate(self._columns.values()):
            width = base + (1 if index < extra else 0)
            width = max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, width))
            if column.styles.width is None or column.styles.width.value != width:
                column.styles.width = width
            height = max(height, column.needed_height(width))
        scrollbar = 1 if base < MIN_COLUMN_WIDTH else 0
        if self.styles.height is None or self.styles.height.value != height + scrollbar:
            self.styles.height = height + scrollbar
