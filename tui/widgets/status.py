"""One line between the generations and the events: a staged shift waiting for
``enter``, what Molt is doing, what went wrong (with the next retry), and what a
read-only session found different and left alone."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusLine(Widget):
    """Staged shift · activity · problem · difference, in that order, each only when
    there is one."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        padding: 0 1;
        background: $surface;
    }
    """

    staged: reactive[str] = reactive("")
    """``g1 100% → 90%   g2 0% → 10%`` while a shift is staged."""
    activity: reactive[str] = reactive("")
    """``promoting g2…``, ``starting the demo fleet…``"""
    problem: reactive[str] = reactive("")
    """``Unreachable: … — retrying in 2 s``"""
    difference: reactive[str] = reactive("")
    """``molt.toml sets listen = …, the fleet runs with … (read-only: not applied)``"""

    def render(self) -> Text:
        parts: list[Text] = []
        if self.staged:
            parts.append(
                Text.assemble(
                    (" STAGED ", "bold reverse"),
                    " ",
                    (self.staged, "bold"),
                    "   enter apply · escape drop",
                )
            )
        if self.activity:
            parts.append(Text(f"⋯ {self.activity}", "italic"))
        if self.problem:
            parts.append(Text(f"⚠ {self.problem}", "bold red"))
        if self.difference:
            parts.append(Text(f"≠ {self.difference}", "bold yellow"))
        if not parts:  # idle: the legend, so the glyphs explain themselves
            return Text(
                "● healthy  ◌ pending  ✖ unhealthy   █ weight  ▓ gain  ▒ loss   "
                "⚑ worse than baseline",
                "dim",
            )
        line = Text("   ").join(parts)
        line.truncate(max(1, self.size.width), overflow="ellipsis")
        return line
