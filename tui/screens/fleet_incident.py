"""The incident responder's keys in the fleet view — ``l`` logs of the selected
generation's first instance, ``t`` the fleet's timeline, ``d`` the diff against the
previous generation — and the marks of tainted generations and of those due a rebuild.

All of it only reads, so read-only mode keeps every key.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, tzinfo

import humanize
from rich.text import Text

from backends.core.events import Event
from backends.core.model import FleetSnapshot
from backends.core.report import noteworthy
from tui.formatting import REBUILD, TAINTED, age, literal
from tui.modals.diff import DiffModal
from tui.screens.fleet_view import FleetView
from tui.screens.logs import LogsScreen
from tui.screens.timeline import KEEP, TimelineScreen

SHOWN_FINDINGS = 1  # findings named in the fleet view's line; the inspect screen lists all


def taint_lines(
    snapshot: FleetSnapshot | None, max_age: timedelta | None, now: datetime
) -> list[Text]:
    """``✗ g2 tainted: 2 drift findings (…) — retire it; launch a new generation`` per
    tainted generation, ``⟳ g1 launched 9 days ago (max age 7 days): due a rebuild`` per
    old one."""
    lines: list[Text] = []
    for g in snapshot.generations if snapshot else ():
        if g.tainted:
            count = len(g.drift)
            head = f"{TAINTED} {g.id} tainted: {count} drift finding{'s' * (count != 1)}"
            named = "; ".join(literal(d) for d in g.drift[:SHOWN_FINDINGS])
            more = f", +{count - SHOWN_FINDINGS} more" if count > SHOWN_FINDINGS else ""
            lines.append(
                Text.assemble(
                    (head, "bold"),
                    f" ({named}{more})",
                    " — retire it; launch a new generation",
                )
            )
    for g in snapshot.generations if snapshot else ():
        if g.rebuild_due:
            limit = f" (max age {humanize.naturaldelta(max_age)})" if max_age else ""
            lines.append(
                Text.assemble(
                    (f"{REBUILD} {g.id} launched {age(g.launched_at, now)}", "bold"),
                    f"{limit}: due a rebuild",
                )
            )
    return lines


class IncidentKeys:
    """The fleet view's part behind ``l``, ``t`` and ``d``; it keeps the health incidents
    and traffic changes seen, for the timeline (the journal keeps the actions; health is
    only known from the moment Molt watches)."""

    def __init__(self, view: FleetView, since: datetime, tz: tzinfo | None) -> None:
        self.view = view
        self.noteworthy: deque[Event] = deque(maxlen=KEEP)
        self.watching_since = since
        self.tz = tz

    def note(self, events: list[Event]) -> None:
        self.noteworthy.extend(e for e in events if noteworthy(e))

    def logs(self) -> None:
        target = self.view.selected_generation
        if target is not None and target.instances:
            self.view.app.push_screen(LogsScreen(self.view.session, target.instances[0].id))

    def timeline(self) -> None:
        screen = TimelineScreen(
            self.view.session, list(self.noteworthy), since=self.watching_since, tz=self.tz
        )
        self.view.app.push_screen(screen)

    def diff(self) -> None:
        target = self.view.selected_generation
        if target is not None:
            self.view.app.push_screen(DiffModal(self.view.session, target.id))
