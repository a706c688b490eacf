"""The state map every driver shares, and the JSON the CLI promises."""

from __future__ import annotations

import pytest

from backends.core.model import GenerationState as S
from backends.core.model import Health, Lifecycle, derive_state
from tests.unit.factories import fleet, generation

H, P, U, G = Health.HEALTHY, Health.PENDING, Health.UNHEALTHY, Health.GONE


@pytest.mark.parametrize(
    ("healths", "weight", "lifecycle", "state"),
    [
        ([P, P], 0, Lifecycle.ACTIVE, S.LAUNCHING),
        ([H, P], 0, Lifecycle.ACTIVE, S.LAUNCHING),
        ([U, P], 0, Lifecycle.ACTIVE, S.LAUNCHING),
        ([H, H], 0, Lifecycle.ACTIVE, S.HEALTHY),
        ([H, U], 0, Lifecycle.ACTIVE, S.DEGRADED),
        ([U, U], 0, Lifecycle.ACTIVE, S.FAILED),
        ([G], 0, Lifecycle.ACTIVE, S.FAILED),
        ([], 0, Lifecycle.ACTIVE, S.LAUNCHING),
        ([U, U], 30, Lifecycle.ACTIVE, S.LIVE),
        ([H], 0, Lifecycle.DRAINING, S.DRAINING),
        ([H], 0, Lifecycle.RETIRED, S.RETIRED),
    ],
)
def test_generation_state_from_instances_weight_and_lifecycle(healths, weight, lifecycle, state):
    assert derive_state(healths, weight, lifecycle) is state


def test_status_json_has_the_documented_shape():
    data = fleet(generation(1, 100, (H, P))).to_json()
    assert data["fleet"] == "web" and data["backend"] == "local"
    assert data["entry"] == "127.0.0.1:8080"
    (g1,) = data["generations"]
    assert {k: g1[k] for k in ("id", "version", "state", "weight", "launched_by", "note")} == {
        "id": "g1",
        "version": "v1",
        "state": "live",
        "weight": 100,
        "launched_by": "alice",
        "note": "",
    }
    assert g1["launched_at"] == "2026-11-26T14:00:00Z"
    assert [(i["id"], i["health"]) for i in g1["instances"]] == [
        ("g1-1", "healthy"),
        ("g1-2", "pending"),
    ]


def test_snapshot_json_round_trips():
    snapshot = fleet(generation(1, 60), generation(2, 40, (H, U)))
    again = type(snapshot).from_json(snapshot.to_json())
    assert again.to_json() == snapshot.to_json()
