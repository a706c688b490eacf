"""Typed events: fields for the UI, a line for people, and a JSON form that comes back
the same (the local agent streams events that way; ``molt watch --json`` prints it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from backends.core.event_json import event_from_json
from backends.core.events import (
    DifferenceFound,
    HealthChanged,
    InstanceRestarted,
    OperatorAction,
    ReadError,
    SnapshotTaken,
    StateChanged,
    WeightsChanged,
)
from backends.core.journal import JournalRecord, Outcome
from backends.core.model import GenerationState, Health
from tests.unit.factories import fleet, generation

AT = datetime(2026, 11, 26, 14, 2, 11, 250000, tzinfo=UTC)
RECORD = JournalRecord(
    fleet="web",
    action="shift",
    operator="alice",
    args={"weights": {"g1": 70, "g2": 30}},
    weights_before={"g1": 100, "g2": 0},
    weights_after={"g1": 70, "g2": 30},
    outcome=Outcome.OK,
    at=AT,
)
EVENTS = [
    HealthChanged(
        fleet="web",
        at=AT,
        generation_id="g3",
        instance_id="g3-1",
        before=Health.PENDING,
        after=Health.UNHEALTHY,
        check="GET /healthz → 500 (2/2 failed)",
    ),
    InstanceRestarted(
        fleet="web", at=AT, generation_id="g1", instance_id="g1-2", how="exited with code 1", pid=7
    ),
    StateChanged(
        fleet="web",
        at=AT,
        generation_id="g2",
        before=None,
        after=GenerationState.LAUNCHING,
        detail="v2 × 3",
        by="bob",
    ),
    WeightsChanged(fleet="web", at=AT, before={"g1": 100, "g2": 0}, after={"g1": 70, "g2": 30}),
    OperatorAction(fleet="web", at=AT, record=RECORD),
    ReadError(fleet="web", at=AT, title="Unreachable", message="no answer", source="host a"),
    DifferenceFound(fleet="web", at=AT, what="HAProxy lost 2 servers", repaired=True),
    SnapshotTaken(fleet="web", at=AT, snapshot=fleet(generation(1, 100))),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_comes_back_from_its_json(event):
    again = event_from_json(event.to_json())
    assert type(again) is type(event)
    assert again.to_json() == event.to_json()


def test_health_events_carry_what_the_screen_draws():
    event = EVENTS[0]
    assert (event.generation, event.instance, event.after) == ("g3", "g3-1", Health.UNHEALTHY)
    assert event.text() == "g3-1 pending → unhealthy  GET /healthz → 500 (2/2 failed)"


def test_a_shift_concerns_the_generations_whose_weight_it_moved():
    action = EVENTS[4]
    assert action.operator == "alice" and action.concerns("g2") and not action.concerns("g3")
    assert action.text() == "alice shift g1=70 g2=30 (was 100/0)"


def test_text_that_is_not_an_event_is_refused():
    with pytest.raises(ValueError, match="not a Molt event"):
        event_from_json({"kind": "gossip", "fleet": "web", "at": "2026-11-26T14:00:00Z"})
