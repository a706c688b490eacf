"""The command palette (``ctrl+p``): every action of the fleet view and every fleet,
offered only where it applies now (read-only hides what would change the fleet).

The provider knows screens only through :class:`OffersCommands`, so it imports no
screen (the fleet view imports this module, not the other way round)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.staging import STEP

if TYPE_CHECKING:
    from tui.screens.fleet import FleetScreen


class OffersCommands:
    """Marks a screen whose own commands the palette lists (the fleet view)."""

    def palette_commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) rows for what the screen allows right now."""
        return []


def fleet_commands(screen: FleetScreen) -> list[tuple[str, str, str]]:
    """(title, help, action) rows for what ``screen`` allows right now."""
    chosen = screen.selected or "the selected generation"
    rows = [
        ("launch", "Launch a new generation", "version, count and note in a dialog"),
        ("stage", f"Shift {STEP} points toward {chosen}", "staged first; enter applies"),
        ("stage", f"Shift {STEP} points away from {chosen}", "staged first; enter applies"),
        ("apply", "Apply the staged shift", "the staged weights become live"),
        ("drop", "Drop the staged shift", "nothing changes"),
        ("promote", f"Promote {chosen}", "all traffic to it (asks first)"),
        ("rollback", "Roll back", "all traffic to the previous healthy generation (asks first)"),
        ("retire", f"Retire {chosen}", "drain, then destroy it (type its id)"),
        ("rollout", f"Roll out {chosen}", "step by step, judged against its baseline (asks)"),
        ("pause_rollout", "Pause the rollout", "the weights stay where they are"),
        ("resume_rollout", "Resume the rollout", "it goes on from its current step"),
        ("abort_rollout", "Abort the rollout", "all traffic back to the baseline (asks first)"),
        ("inspect", f"Inspect {chosen}", "instances, spec and journal"),
        ("logs", f"Logs of {chosen}", "its first instance's output, followed live"),
        ("timeline", "Timeline", "actions, health incidents and traffic changes in time order"),
        ("diff", f"Diff {chosen} against the previous generation", "version, artifact, files"),
        ("filter", "Filter events", "by text, generation (g3) or instance (g3-1)"),
        ("help", "Help: keys and glyphs", ""),
        ("quit", "Quit Molt", "the fleet keeps running"),
    ]
    actions = {
        "stage": [f"stage({STEP})", f"stage({-STEP})"],
    }
    commands: list[tuple[str, str, str]] = []
    for name, title, help_text in rows:
        if not screen.allowed(name):
            continue
        action = actions[name].pop(0) if name in actions else name
        commands.append((title, help_text, action))
    if screen.snapshot is not None:
        for g in screen.snapshot.generations:
            title = f"Select {g.id} ({g.version}, {g.state.value}, {g.weight}%)"
            commands.append((title, g.note, f"select_generation('{g.id}')"))
    for name in screen.fleet_names:
        if name != screen.fleet.name:
            commands.append((f"Switch to fleet {name}", "", f"app.open_fleet('{name}')"))
    return commands


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
