"""The estate: every fleet molt.toml names, one summary row each. Pure data; reading it
(in parallel, each fleet with its own deadline) is :mod:`backends.engine.estate`.

A summary is what the estate screen and ``molt status`` (no fleet) show of a fleet:
its generations and weights, health, traffic, rollout, and what needs attention. A
fleet that cannot be read keeps its last good summary, marked unreachable, with why and
since when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backends.core.model import FleetSnapshot
from backends.core.rollout import Rollout

#: how many traffic samples a summary keeps for its sparkline (one per estate read)
SPARK_SAMPLES = 30


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """One fleet as the estate sees it.

    Attributes:
        name: the fleet's name in molt.toml.
        backend: ``local``, ``ssh`` or ``aws``.
        reachable: the last read succeeded.
        problem: why the fleet cannot be read (one line, outside text: show literally).
        since: when it became unreachable (None: it is reachable).
        read_at: when it was last read successfully (None: never).
        snapshot: the last good read (kept, stale, while unreachable).
        rollout: the fleet's rollout by its journal (None: none ever, or long ended).
        attention: what needs an operator, most urgent first, in words
            (``lock held by alice for 12 min``, ``interrupted: shift g1=90 g2=10``,
            ``g3 tainted``, ``g4 worse than g3: 5xx 2.1% vs 0.4%``, ``unreachable: …``).
        last_change: the time of the fleet's newest journal record (None: none).
        rps: requests per second, one sample per read, oldest first (the sparkline),
            at most :data:`SPARK_SAMPLES`.
        status: the object ``molt status FLEET --json`` prints (None: never read).
    """

    name: str
    backend: str
    reachable: bool = True
    problem: str = ""
    since: datetime | None = None
    read_at: datetime | None = None
    snapshot: FleetSnapshot | None = None
    rollout: Rollout | None = None
    attention: tuple[str, ...] = ()
    last_change: datetime | None = None
    rps: tuple[float, ...] = ()
    status: dict[str, Any] | None = field(default=None, compare=False)

    def needs_attention(self) -> bool:
        return bool(self.attention) or not self.reachable

    def to_json(self) -> dict[str, Any]:
        """``status FLEET --json``'s object plus ``reachable`` and ``problem``: what
        ``molt status --json`` (no fleet) prints for each fleet."""
        return {
            **(self.status or {"fleet": self.name, "backend": self.backend}),
            "reachable": self.reachable,
            "problem": self.problem or None,
        }


def order(summaries: list[FleetSummary]) -> list[FleetSummary]:
    """Fleets that need attention first, then the most recently changed, then by name."""

    def key(summary: FleetSummary) -> tuple[int, float, str]:
        changed = summary.last_change.timestamp() if summary.last_change else 0.0
        return (0 if summary.needs_attention() else 1, -changed, summary.name)

    return sorted(summaries, key=key)
