"""The lower rows of a generation's column, as (text, component class) spans: what real
requests see, the flag of a generation doing worse than its baseline, the fleet's
rollout. Pure: the column turns spans into ``Segment``s with its cached styles, and
counts rows (its height) without styling anything."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.cells import cell_len

from backends.core.model import Generation
from backends.core.traffic import traffic_line
from tui.formatting import FLAG, REBUILD, TAINTED, literal
from tui.rollout_view import RolloutView
from tui.sparkline import sparkline

Row = list[tuple[str, str]]  # (text, component class; "" for the column's own style)

ERROR_FLOOR = 0.05  # the errors sparkline fills its cell at 5% (or the worst step, if more)
REASON_ROWS = 2
TONES = {
    "": "",
    "title": "generation--title",
    "ok": "generation--ok",
    "failed": "generation--failed",
    "warning": "generation--warning",
    "muted": "generation--muted",
}


def fit(text: str, width: int) -> str:
    """``text`` in ``width`` cells: double spaces squeezed first, then cut with ``…``."""
    if cell_len(text) > width:
        text = " ".join(text.split())
    if cell_len(text) <= width:
        return text
    while text and cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…" if width > 0 else ""


def fit_numbers(text: str, width: int) -> str:
    """A traffic line or flag in ``width`` cells: spaces squeezed, then units drawn in
    (``41/s``, ``18ms``) — the numbers must show — and only then cut with ``…``."""
    squeezed = " ".join(text.split())
    for candidate in (text, squeezed):
        if cell_len(candidate) <= width:
            return candidate
    return fit(squeezed.replace(" req/s", "/s").replace(" ms", "ms"), width)


def marks_rows(generation: Generation, inner: int) -> list[Row]:
    """``✗ tainted: 2 drift findings`` (what runs is no longer what was launched: the
    fix is a new generation) and ``⟳ rebuild due`` (older than the fleet's max_age)."""
    rows: list[Row] = []
    if generation.tainted:
        count = len(generation.drift)
        text = f"{TAINTED} tainted: {count} drift finding{'s' if count != 1 else ''}"
        rows.append([(fit(text, inner), "generation--failed")])
    if generation.rebuild_due:
        rows.append([(fit(f"{REBUILD} rebuild due", inner), "generation--warning")])
    return rows


def traffic_rows(generation: Generation, findings: Sequence[str], inner: int) -> list[Row]:
    """``41 req/s  5xx 0.4%  p99 18 ms``, the request-rate and error sparklines (when the
    source keeps a history), then one ``⚑ 5xx 31% vs 0.1% on g1`` per measure worse than
    the baseline — a glyph and words, so it reads without color."""
    traffic = generation.traffic
    line_class = "generation--warning" if findings else ""
    if traffic is None:
        line_class = "generation--muted"
    rows: list[Row] = [[(fit_numbers(traffic_line(traffic), inner), line_class)]]
    history = traffic.history if traffic is not None else None
    if history is not None and (history.rps or history.error_rate):
        width = max(0, inner - 6)
        rates = sparkline(history.rps, width)
        errors = sparkline(history.error_rate, width, floor=ERROR_FLOOR, combine=max)
        error_class = "generation--warning" if findings else "generation--muted"
        rows.append([("req/s ", "generation--muted"), (rates, "generation--bar")])
        rows.append([("5xx   ", "generation--muted"), (errors, error_class)])
    for finding in findings:
        rows.append([(fit_numbers(f"{FLAG} {finding}", inner), "generation--warning")])
    return rows


def wrap_rollout(view: RolloutView | None, inner: int) -> list[Row]:
    """The rollout's pieces joined by `` · ``, wrapped between pieces, then its reason."""
    if view is None:
        return []
    rows: list[Row] = []
    row: Row = []
    width = 0
    for piece in view.pieces:
        size = sum(cell_len(text) for text, _ in piece)
        if row and width + 3 + size > inner:
            rows.append(row)
            row, width = [], 0
        if row:
            row.append((" · ", "generation--muted"))
            width += 3
        row.extend((text, TONES.get(tone, "")) for text, tone in piece)
        width += size
    if row:
        rows.append(row)
    if view.reason:
        lines = textwrap.wrap(
            literal(view.reason), max(1, inner), max_lines=REASON_ROWS, placeholder=" …"
        )
        rows.extend([[(line, "generation--muted")] for line in lines])
    return rows
