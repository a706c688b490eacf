"""The safety rules, checked on hand-picked cases and on generated fleets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends import guards
from backends.errors import NotFound, Refused
from backends.model import Health, Lifecycle
from tests.unit.factories import fleet, generation

H, P, U = Health.HEALTHY, Health.PENDING, Health.UNHEALTHY


def test_shift_completes_unnamed_generations_with_zero():
    snapshot = fleet(generation(1, 100), generation(2), generation(3))
    assert guards.plan_weights(snapshot, {"g1": 90, "g2": 10}) == {"g1": 90, "g2": 10, "g3": 0}


def test_weights_must_sum_to_100():
    snapshot = fleet(generation(1, 100), generation(2))
    with pytest.raises(Refused, match="sum to 100, these sum to 90"):
        guards.plan_weights(snapshot, {"g1": 80, "g2": 10})


def test_unknown_generation_is_named():
    with pytest.raises(NotFound, match="no generation g7"):
        guards.plan_weights(fleet(generation(1, 100)), {"g7": 100})


def test_unhealthy_generation_cannot_gain_weight_unless_forced():
    snapshot = fleet(generation(1, 100), generation(2, healths=(U, U)))
    with pytest.raises(Refused, match="g2 has no healthy instance"):
        guards.plan_promote(snapshot, "g2")
    assert guards.plan_weights(snapshot, {"g1": 90, "g2": 10}, force=True)["g2"] == 10


def test_traffic_may_move_away_from_an_unhealthy_generation():
    snapshot = fleet(generation(1, 50, (U,)), generation(2, 50))
    assert guards.plan_promote(snapshot, "g2") == {"g1": 0, "g2": 100}


def test_a_fleet_without_traffic_may_stay_at_zero_until_first_promote():
    snapshot = fleet(generation(1, 0, (P,)))
    assert guards.plan_weights(snapshot, {}) == {"g1": 0}


def test_live_generation_cannot_be_retired():
    snapshot = fleet(generation(1, 100), generation(2))
    with pytest.raises(Refused, match="g1 still carries 100%"):
        guards.check_retire(snapshot, "g1")
    assert guards.check_retire(snapshot, "g2").id == "g2"


def test_rollback_goes_to_the_newest_older_healthy_generation():
    snapshot = fleet(generation(1), generation(2, healths=(U,)), generation(3), generation(4, 100))
    assert guards.plan_rollback(snapshot) == ("g3", {"g1": 0, "g2": 0, "g3": 100, "g4": 0})


def test_rollback_refuses_without_an_older_healthy_generation():
    snapshot = fleet(generation(1, healths=(U,)), generation(2, 100))
    with pytest.raises(Refused, match="no healthy generation older than g2"):
        guards.plan_rollback(snapshot)


def test_draining_generation_takes_no_traffic():
    snapshot = fleet(generation(1, 100), generation(2, lifecycle=Lifecycle.DRAINING))
    with pytest.raises(Refused, match="draining"):
        guards.plan_weights(snapshot, {"g1": 50, "g2": 50})


def test_launch_needs_a_version_and_a_sane_count():
    with pytest.raises(Refused, match="version"):
        guards.check_launch("two words", 1)
    with pytest.raises(Refused, match="count"):
        guards.check_launch("v2", 0)


# property tests ---------------------------------------------------------------------

healths = st.lists(st.sampled_from([H, P, U]), min_size=1, max_size=4).map(tuple)


@st.composite
def fleets(draw, serving: bool = False):
    """Fleets of 1–5 generations; ``serving``: one with a healthy instance carries all."""
    count = draw(st.integers(1, 5))
    gens = [draw(healths) for _ in range(count)]
    live = draw(st.integers(0, count - 1))
    weights = [0] * count
    if serving:
        gens[live] = (H, *gens[live][1:])
    if serving or draw(st.booleans()):
        weights[live] = 100
    return fleet(*(generation(i + 1, weights[i], gens[i]) for i in range(count)))


requests = st.dictionaries(st.sampled_from(["g1", "g2", "g3", "g4", "g5"]), st.integers(-20, 120))


@given(fleets(), requests, st.booleans())
def test_any_accepted_shift_is_whole_bounded_and_sums_to_100(snapshot, request, force):
    try:
        after = guards.plan_weights(snapshot, request, force=force)
    except (Refused, NotFound):
        return
    assert set(after) == {g.id for g in snapshot.generations}
    assert all(0 <= w <= 100 for w in after.values())
    assert sum(after.values()) in ({100, 0} if sum(snapshot.weights.values()) == 0 else {100})


@given(fleets(), requests)
def test_unforced_shift_never_raises_weight_of_a_generation_without_healthy_instances(
    snapshot, request
):
    try:
        after = guards.plan_weights(snapshot, request)
    except (Refused, NotFound):
        return
    for g in snapshot.generations:
        if not g.has_healthy:
            assert after[g.id] <= g.weight


@given(fleets(serving=True), requests, st.booleans())
def test_healthy_traffic_is_never_cut_off(snapshot, request, force):
    try:
        after = guards.plan_weights(snapshot, request, force=force)
    except (Refused, NotFound):
        return
    assert any(after[g.id] and g.has_healthy for g in snapshot.generations)


@given(fleets())
def test_generation_with_weight_is_never_retirable(snapshot):
    for g in snapshot.generations:
        if g.weight > 0:
            with pytest.raises(Refused):
                guards.check_retire(snapshot, g.id)


@given(fleets())
def test_rollback_target_is_older_healthy_and_gets_all_traffic(snapshot):
    try:
        target, after = guards.plan_rollback(snapshot)
    except Refused:
        return
    newest_live = max(g.number for g in snapshot.generations if g.weight)
    chosen = snapshot.generation(target)
    assert chosen is not None and chosen.has_healthy and chosen.number < newest_live
    assert after[target] == 100 and sum(after.values()) == 100
