"""Baseline crossings: the moment a generation starts, or stops, doing worse than its
baseline is an event (the generation's columns show the state; the stream shows when)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.core.baseline import baseline, worse_than_baseline
from backends.core.model import FleetSnapshot

if TYPE_CHECKING:
    from backends.core.events import Event


class Crossings:
    """What each generation did worse than its baseline at the last snapshot, and the
    baseline it was judged against (kept for the event that says it recovered after its
    baseline was gone)."""

    def __init__(self, fleet: str) -> None:
        self.fleet = fleet
        self._worse: dict[str, tuple[str, ...]] = {}  # generation → what it does worse
        self._worse_base: dict[str, str] = {}

    def seen(self, snapshot: FleetSnapshot) -> list[Event]:
        """The crossings since the last snapshot seen, as :class:`TrafficCrossed` events."""
        events: list[Event] = []
        for generation in snapshot.generations:
            findings = tuple(worse_than_baseline(snapshot, generation.id))
            was = self._worse.get(generation.id, ())
            if bool(findings) != bool(was):
                # imported on a crossing: a look that sees none never pays for the events
                from backends.core.events import TrafficCrossed

                base = baseline(snapshot, generation.id)
                events.append(
                    TrafficCrossed(
                        fleet=self.fleet,
                        at=snapshot.taken_at,
                        generation_id=generation.id,
                        baseline=base.id if base else (self._worse_base.get(generation.id, "")),
                        worse=bool(findings),
                        findings=findings,
                    )
                )
                if base is not None:
                    self._worse_base[generation.id] = base.id
            self._worse[generation.id] = findings
        return events
