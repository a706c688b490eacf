"""What polled drivers report when two reads of a fleet differ: typed events."""

from __future__ import annotations

from backends.core.events import HealthChanged, SnapshotTaken, StateChanged, WeightsChanged
from backends.core.model import GenerationState, Health
from backends.core.polling import Follower, diff_snapshots
from tests.unit.factories import fleet, generation

H, P, U = Health.HEALTHY, Health.PENDING, Health.UNHEALTHY


def test_health_weights_and_new_generations_become_typed_events():
    before = fleet(generation(1, 100), generation(2, 0, (P, P)))
    after = fleet(generation(1, 50), generation(2, 50, (H, U)), generation(3, 0, (P,)))
    events = diff_snapshots(before, after)
    health = {(e.instance_id, e.before, e.after) for e in events if isinstance(e, HealthChanged)}
    assert health == {("g2-1", P, H), ("g2-2", P, U)}
    (appeared,) = [e for e in events if isinstance(e, StateChanged) and e.before is None]
    assert (appeared.generation_id, appeared.detail) == ("g3", "v3 × 1")
    (weights,) = [e for e in events if isinstance(e, WeightsChanged)]
    assert (weights.before, weights.after) == ({"g1": 100, "g2": 0}, {"g1": 50, "g2": 50, "g3": 0})
    assert weights.concerns("g2") and not weights.concerns("g3")


def test_a_generation_that_disappears_is_reported_retired():
    events = diff_snapshots(fleet(generation(1, 100), generation(2)), fleet(generation(1, 100)))
    assert [(type(e), e.generation, e.after) for e in events] == [
        (StateChanged, "g2", GenerationState.RETIRED)
    ]


def test_identical_reads_yield_nothing():
    snapshot = fleet(generation(1, 100))
    assert diff_snapshots(snapshot, snapshot) == []


def test_every_read_is_handed_to_watchers():
    follower = Follower("web")
    first, second = fleet(generation(1, 100)), fleet(generation(1, 100, (U,)))
    assert [type(e) for e in follower.read(first)] == [SnapshotTaken]
    events = follower.read(second)
    assert isinstance(events[-1], SnapshotTaken) and events[-1].snapshot is second
    assert [e.after for e in events if isinstance(e, HealthChanged)] == [U]
