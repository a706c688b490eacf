"""The synthetic fleets the TUI tests and snapshots show."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backends.core.journal import JournalRecord, Outcome
from backends.core.model import Health
from tests.support.synthetic import ManualClock, SyntheticBackend


def three_generations(backend: SyntheticBackend) -> None:
    """The fleet of the main screenshot: an old live one, a newer live one taking
    traffic, and a launch going wrong — with the journal that led there."""
    backend.add_generation(
        "v1", 6, weight=70, age=timedelta(hours=2), note="baseline", launched_by="bob"
    )
    backend.add_generation(
        "v2",
        [Health.HEALTHY] * 4 + [Health.PENDING] * 2,
        weight=30,
        age=timedelta(minutes=3),
        note="faster login",
    )
    backend.add_generation(
        "v3", [Health.PENDING] * 4, age=timedelta(seconds=40), note="new cache layer"
    )
    past_actions(backend)


def _launch(version: str, count: int, generation: str, note: str) -> dict[str, Any]:
    return {"version": version, "count": count, "generation": generation, "note": note}


def past_actions(backend: SyntheticBackend) -> None:
    """The journal of :func:`three_generations`: (seconds ago, who, what, args, before)."""
    now = backend.clock()
    past = [
        (7200, "bob", "launch", _launch("v1", 6, "g1", "baseline"), {}),
        (7170, "bob", "promote", {"generation": "g1"}, {"g1": 0}),
        (180, "alice", "launch", _launch("v2", 6, "g2", "faster login"), {}),
        (53, "alice", "shift", {"weights": {"g1": 70, "g2": 30}}, {"g1": 100, "g2": 0}),
        (40, "alice", "launch", _launch("v3", 4, "g3", "new cache layer"), {}),
    ]
    for seconds, operator, action, args, before in past:
        record = JournalRecord(
            fleet=backend.fleet,
            action=action,
            operator=operator,
            args=args,
            weights_before=before,
            outcome=Outcome.OK,
            at=now - timedelta(seconds=seconds),
            id=f"{action}-{seconds}",
        )
        backend.memory.writes.append(record)
    backend.memory.seeded = len(backend.memory.writes)


def health_story(backend: SyntheticBackend, clock: ManualClock) -> None:
    """What happens next in :func:`three_generations`, a second apart: g2-5 comes up,
    g3-4 fails its checks. Publish it once the app watches, for the event stream."""
    clock.advance(1)
    backend.set_health("g2-5", Health.HEALTHY, "200 in 3 ms (2/2 passed)")
    clock.advance(1)
    backend.set_health("g3-4", Health.UNHEALTHY, "GET /healthz → 500 (2/2 failed)")


def two_generations(clock: ManualClock) -> SyntheticBackend:
    """g1 v1 with all the traffic, g2 v2 (selected at start), three instances each."""
    backend = SyntheticBackend(clock=clock)
    backend.add_generation("v1", 3, weight=100)
    backend.add_generation("v2", 3)  # selected at start
    return backend
