"""The command palette (``ctrl+p``): every action of the fleet view and every fleet,
offered only where it applies now (read-only hides what would change the fleet).

The provider knows screens only through :class:`OffersCommands`, so it imports no
screen; the rows themselves come from the action table (:mod:`tui.actions`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from backends.core.model import FleetSnapshot


@runtime_checkable
class OffersCommands(Protocol):
    """A screen whose own commands the palette lists (the fleet view)."""

    def palette_commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) rows for what the screen allows right now."""
        ...


def choices(
    snapshot: FleetSnapshot | None, other_fleets: Sequence[str]
) -> list[tuple[str, str, str]]:
    """(title, help, action) rows to select each generation and switch to each fleet."""
    rows = [
        (f"Select {g.id} ({g.version}, {g.state.value}, {g.weight}%)", g.note,
         f"select_generation('{g.id}')")
        for g in (snapshot.generations if snapshot else ())
    ]  # fmt: skip
    rows.extend(
        (f"Switch to fleet {name}", "", f"app.open_fleet('{name}')") for name in other_fleets
    )
    return rows


class FleetCommands(Provider):
    """Molt's commands, for the fleet view the palette was opened from."""

    def _commands(self) -> list[tuple[str, str, str]]:
        if not isinstance(self.screen, OffersCommands):
            return []  # inspect view and dialogs: only the system commands
        return self.screen.palette_commands()

    def _run(self, action: str) -> partial[Any]:
        return partial(self.app.run_action, action, self.screen)

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands():
            yield DiscoveryHit(title, self._run(action), help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                shown = matcher.highlight(title)
                yield Hit(score, shown, self._run(action), help=help_text or None)
