"""The pure parts of the fleet view: staging a traffic step, words and glyphs."""

from __future__ import annotations

import pytest

from backends.core.events import HealthChanged
from backends.core.model import Health
from tests.support.synthetic import FROZEN, SyntheticBackend
from tui.formatting import counts_summary, event_mark, event_matches, staged_text
from tui.staging import CannotStage, stage_step


async def fleet(*weights: int, healths: list[Health] | None = None):
    backend = SyntheticBackend()
    for n, weight in enumerate(weights, start=1):
        backend.add_generation(f"v{n}", healths or 2, weight=weight)
    return await backend.snapshot()


async def test_plus_takes_from_the_biggest_carrier_and_minus_gives_to_it():
    snapshot = await fleet(70, 30, 0)
    assert stage_step(snapshot, None, "g3", 10) == {"g1": 60, "g2": 30, "g3": 10}
    assert stage_step(snapshot, None, "g2", -10) == {"g1": 80, "g2": 20, "g3": 0}
    staged = stage_step(snapshot, None, "g2", 10)
    assert stage_step(snapshot, staged, "g2", 10) == {"g1": 50, "g2": 50, "g3": 0}
    assert stage_step(snapshot, staged, "g2", -10) is None  # back where it was: nothing staged


async def test_steps_stop_at_the_ends_with_a_reason():
    snapshot = await fleet(100, 0)
    with pytest.raises(CannotStage, match="g1 already carries all the traffic"):
        stage_step(snapshot, None, "g1", 10)
    with pytest.raises(CannotStage, match="g2 carries no traffic to give away"):
        stage_step(snapshot, None, "g2", -10)
    with pytest.raises(CannotStage, match="promote a generation first"):
        stage_step(await fleet(0, 0), None, "g1", 10)
    assert stage_step(await fleet(95, 5), None, "g2", 10) == {"g1": 85, "g2": 15}


async def test_words_and_glyphs_read_without_color():
    snapshot = await fleet(
        100, healths=[Health.HEALTHY] * 480 + [Health.PENDING] * 15 + [Health.UNHEALTHY] * 5
    )
    assert counts_summary(snapshot.generations[0]) == "480/500 healthy  ◌15  ✖5"
    assert staged_text({"g1": 100, "g2": 0}, {"g1": 90, "g2": 10}) == "g1 100% → 90%   g2 0% → 10%"
    event = HealthChanged(
        fleet="web",
        at=FROZEN,
        generation_id="g3",
        instance_id="g3-1",
        before=Health.PENDING,
        after=Health.UNHEALTHY,
        check="GET /healthz → 500",
    )
    assert event_mark(event) == "✖"
    assert event_matches(event, ["g3"]) and event_matches(event, ["g3-1", "get"])
    assert not event_matches(event, ["g31"]) and not event_matches(event, ["g3-2"])
