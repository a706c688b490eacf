"""What polled drivers report when two reads of a fleet differ."""

from __future__ import annotations

from backends.model import EventKind, Health
from backends.polling import diff_snapshots
from tests.unit.factories import fleet, generation

H, P, U = Health.HEALTHY, Health.PENDING, Health.UNHEALTHY


def test_health_weights_and_new_generations_become_events():
    before = fleet(generation(1, 100), generation(2, 0, (P, P)))
    after = fleet(generation(1, 50), generation(2, 50, (H, U)), generation(3, 0, (P,)))
    messages = [(e.kind, e.message) for e in diff_snapshots(before, after)]
    assert (EventKind.HEALTH, "g2-1 pending → healthy") in messages
    assert (EventKind.HEALTH, "g2-2 pending → unhealthy") in messages
    assert (EventKind.STATE, "g3 appeared: v3 × 1") in messages
    assert (EventKind.WEIGHTS, "weights g1=50 g2=50 g3=0") in messages


def test_a_generation_that_disappears_is_reported_retired():
    events = diff_snapshots(fleet(generation(1, 100), generation(2)), fleet(generation(1, 100)))
    assert [(e.kind, e.message) for e in events] == [(EventKind.STATE, "g2 retired")]


def test_identical_reads_yield_nothing():
    snapshot = fleet(generation(1, 100))
    assert diff_snapshots(snapshot, snapshot) == []
