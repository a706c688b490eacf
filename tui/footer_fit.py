"""The fleet view's footer in the terminal's width: rows of the action table that do
not fit are left out, the least important first (their ``rank``, then from the right),
so ``?`` (help) and ``q`` (quit) stay on an 80- or 60-column terminal.

It works on the screen's ``active_bindings`` (what Textual's footer draws): a key left
out is only not shown; it still works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from rich.cells import cell_len
from textual.binding import ActiveBinding, Binding

from tui import actions

#: what the footer's compact style draws around its entries (see tui/app.tcss)
GAP = 1  # after each key and after each group's label


def fit(
    active: Mapping[str, ActiveBinding],
    width: int,
    key_display: Callable[[Binding], str],
    table: tuple[actions.Action, ...] = actions.TABLE,
) -> dict[str, ActiveBinding]:
    """``active`` with ``show`` off for the footer entries that do not fit in ``width``."""
    ranks = {row.id or row.name: row.rank for row in table if row.screen == actions.FLEET}
    entries: dict[str, list[Binding]] = {}  # by group (or action): what draws as one
    for shown in active.values():
        binding = shown.binding
        if binding.show:
            group = binding.group.description if binding.group else ""
            entries.setdefault(group or binding.action, []).append(binding)
    sizes = {name: _width(bindings, key_display) for name, bindings in entries.items()}
    order = list(entries)
    dropped: set[str] = set()
    total = sum(sizes.values())
    # least important first; among equals, the rightmost
    for name in sorted(order, key=lambda n: (_rank(entries[n], ranks), -order.index(n))):
        if total <= width:
            break
        dropped.add(name)
        total -= sizes[name]
    hidden = {id(b) for name in dropped for b in entries[name]}
    return {
        key: shown._replace(binding=replace(shown.binding, show=False))
        if id(shown.binding) in hidden
        else shown
        for key, shown in active.items()
    }


def _rank(bindings: list[Binding], ranks: Mapping[str, int]) -> int:
    return max(ranks.get(b.id or "", actions.DEFAULT_RANK) for b in bindings)


def _width(bindings: list[Binding], key_display: Callable[[Binding], str]) -> int:
    """Cells one entry takes: ``n launch`` and a gap, or a group's keys (one each
    action), its label and a gap after each."""
    per_action = {b.action: b for b in bindings}
    if len(per_action) > 1 and bindings[0].group is not None:  # ``←→ select``
        keys = sum(cell_len(key_display(b)) for b in per_action.values())
        return keys + GAP + cell_len(bindings[0].group.description) + GAP
    first = bindings[0]
    return cell_len(key_display(first)) + 1 + cell_len(first.description) + GAP
