"""Sparklines as block characters, for the Line API: a generation's request rate and
error rate over the last minutes, in one row of its column. Pure functions.

Textual's ``Sparkline`` widget draws the same bars, but a widget per column and measure
(twenty at ten generations) costs layout and compositing on every read; the columns
already draw each line as one ``Strip``, so the bars join them as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

BARS = "▁▂▃▄▅▆▇█"
UNKNOWN = " "  # a step nothing is known for


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def sparkline(
    values: Sequence[float | None],
    width: int,
    *,
    floor: float = 0.0,
    combine: Callable[[Sequence[float]], float] = _mean,
) -> str:
    """``values`` (oldest first) as ``width`` bars, newest on the right.

    More values than cells: each cell stands for a run of them (``combine``: the mean
    by default; ``max`` keeps a spike visible). Fewer: the line starts blank on the
    left. Bars scale from 0 to the largest value, or to ``floor`` when everything is
    smaller (so 0.1% of errors stays a flat line instead of filling the cell).
    """
    if width <= 0:
        return ""
    cells: list[float | None] = list(values[-width:]) if len(values) <= width else []
    if len(values) > width:
        for index in range(width):
            run = values[index * len(values) // width : (index + 1) * len(values) // width]
            known = [v for v in run if v is not None]
            cells.append(combine(known) if known else None)
    known = [v for v in cells if v is not None]
    top = max([floor, *known]) if known else 0.0
    bars = [
        UNKNOWN if v is None else BARS[min(7, int(v / top * 7 + 0.5))] if top > 0 else BARS[0]
        for v in cells
    ]
    return UNKNOWN * (width - len(bars)) + "".join(bars)
