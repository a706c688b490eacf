"""The safety rules, checked on hand-picked cases and on generated fleets."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from random import Random

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from backends.core import guards
from backends.core.errors import BadInput, NotFound, Refused
from backends.core.model import FleetSnapshot, Generation, GenerationState, Health, Lifecycle
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


def test_a_driver_refuses_a_retire_in_the_same_words_as_the_engine():
    guards.check_carries_no_traffic("g2", 0)
    with pytest.raises(Refused) as engine:
        guards.check_retire(fleet(generation(1, 100)), "g1")
    with pytest.raises(Refused) as driver:
        guards.check_carries_no_traffic("g1", 100)
    assert driver.value.message == engine.value.message
    with pytest.raises(Refused, match="g1 still carries 30% of traffic on the listener; shift"):
        guards.check_carries_no_traffic("g1", 30, where="on the listener")


@pytest.mark.parametrize(
    ("lifecycle", "attached", "refusal"),
    [
        (Lifecycle.DRAINING, True, "g2 is draining; it cannot take traffic"),
        ("launching", True, "g2 is launching; it cannot take traffic"),
        (Lifecycle.ACTIVE, False, "g2 has no target group attached; it cannot take traffic"),
    ],
)
def test_only_an_active_attached_generation_takes_weight(lifecycle, attached, refusal):
    guards.check_takes_traffic("g2", lifecycle, 0, attached=attached)
    guards.check_takes_traffic("g2", Lifecycle.ACTIVE, 50)
    with pytest.raises(Refused, match=refusal):
        guards.check_takes_traffic("g2", lifecycle, 50, attached=attached)


def test_putting_the_load_balancer_back_keeps_healthy_traffic():
    guards.check_keeps_healthy_traffic(["a"], ["b"], change="x")
    guards.check_keeps_healthy_traffic([], [], change="x")
    with pytest.raises(Refused, match="^x would leave no healthy server carrying traffic "):
        guards.check_keeps_healthy_traffic(["a"], [], change="x", serving="server", now="a")


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


@pytest.mark.parametrize(
    ("version", "note", "field", "code"),
    [
        ("v5", "fix \x1b[2J parser", "note", "U+001B"),
        ("v5", "line one\nline two", "note", "U+000A"),
        ("v5", "tab\there", "note", "U+0009"),
        ("v5", "del\x7f", "note", "U+007F"),
        ("v5", "c1 \x9b31m", "note", "U+009B"),
        ("v5", "fake\u2028history", "note", "U+2028"),
        ("v5", "abc\u202edcba", "note", "U+202E"),
        ("v5", "isolate\u2066x", "note", "U+2066"),
        ("v\x1b[31m5", "", "version", "U+001B"),
        ("v5\u200f", "", "version", "U+200F"),
    ],
)
def test_control_characters_in_notes_and_versions_are_refused_with_exit_2(
    version, note, field, code
):
    with pytest.raises(BadInput) as caught:
        guards.check_launch(version, 1, note)
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"the {field} holds a control character ({code}")


def test_markup_and_emoji_in_notes_are_plain_text():
    guards.check_launch("v5", 1, "fix [/] parser [bold]now[/bold] 🐍 👩‍💻 ✔︎ é")


# property tests ---------------------------------------------------------------------
#
# Each property runs under Hypothesis through ``reach``, which also counts how many
# examples got as far as the property's assertion: a property whose examples are all
# refused before it cannot fail, so the test fails instead (below 90%).

REACHED = "reached the assertion"
STOPPED = "refused before the assertion"
MIN_REACH = 0.9
#: the share of generated shifts made invalid: as many as the 90% reach leaves room for
BREAK_ONE_IN = 30

healths = st.lists(st.sampled_from([H, P, U]), min_size=1, max_size=4).map(tuple)


@st.composite
def fleets(draw, serving: bool = False):
    """Fleets of 1–5 generations, some draining; ``serving``: one with a healthy
    instance carries all the traffic."""
    count = draw(st.integers(1, 5))
    gens = [draw(healths) for _ in range(count)]
    live = draw(st.integers(0, count - 1))
    weights = [0] * count
    if serving:
        gens[live] = (H, *gens[live][1:])
    if serving or draw(st.booleans()):
        weights[live] = 100
    draining = [
        weights[i] == 0 and draw(st.sampled_from([False, False, False, True])) for i in range(count)
    ]
    return fleet(
        *(
            generation(
                i + 1, weights[i], gens[i], Lifecycle.DRAINING if draining[i] else Lifecycle.ACTIVE
            )
            for i in range(count)
        )
    )


def _takers(snapshot: FleetSnapshot, force: bool) -> list[Generation]:
    """Generations a shift may give traffic to."""
    return [
        g
        for g in snapshot.generations
        if g.state is not GenerationState.DRAINING and (force or g.has_healthy)
    ]


@st.composite
def valid_shifts(draw, snapshot: FleetSnapshot, force: bool) -> dict[str, int]:
    """A split of 100 the guards must accept: over generations that may take traffic,
    a healthy one among them when there is one; others sometimes named with 0."""
    takers = _takers(snapshot, force)
    if not takers:  # nothing may gain weight: keeping the weights is the valid shift
        return dict(snapshot.weights)
    chosen = draw(st.lists(st.sampled_from(takers), min_size=1, unique_by=lambda g: g.id))
    healthy = [g for g in takers if g.has_healthy]
    if healthy and not any(g.has_healthy for g in chosen):
        chosen.append(draw(st.sampled_from(healthy)))
    request = _split(chosen, _cuts(draw, len(chosen)))
    for g in snapshot.generations:
        if g.id not in request and draw(st.booleans()):
            request[g.id] = 0
    return request


def _split(generations: list[Generation], cuts: set[int]) -> dict[str, int]:
    """100 split at ``cuts`` (one fewer than the generations, within 1–99) into
    positive whole parts, one per generation."""
    edges = sorted(cuts)
    parts = [b - a for a, b in zip([0, *edges], [*edges, 100], strict=True)]
    return {g.id: w for g, w in zip(generations, parts, strict=True)}


def _cuts(draw, count: int) -> set[int]:
    return draw(st.sets(st.integers(1, 99), min_size=count - 1, max_size=count - 1))


def broken(snapshot: FleetSnapshot, request: dict[str, int], force: bool, pick: Random):
    """A valid split broken in one way the guards must refuse (chosen by ``pick``)."""
    gens = snapshot.generations
    draining = [g.id for g in gens if g.state is GenerationState.DRAINING]
    unhealthy = [g for g in gens if not g.has_healthy and g.state is not GenerationState.DRAINING]
    risable = [g for g in unhealthy if g.weight < 100]
    serving = any(g.weight and g.has_healthy for g in gens)
    ways = ["sum", "unknown", "range"] + (["draining"] if draining else [])
    ways += ["to unhealthy"] if risable and not force else []
    ways += ["cut off"] if unhealthy and serving else []
    how = pick.choice(ways)
    request = dict(request)
    some = pick.choice(sorted(request))
    if how == "sum":  # 50–150, never 0 or 100
        request[some] += pick.choice([-1, 1]) * pick.randint(1, 50)
    elif how == "unknown":
        request["g9"] = 0
    elif how == "range":
        request[some] = pick.choice([-1, 101, 10**12])
    elif how == "draining":
        request[pick.choice(draining)] = 1
    elif how == "to unhealthy":  # unforced: more weight to one without a healthy instance
        target = pick.choice(risable)
        others = [g for g in gens if g.id != target.id and g.state is not GenerationState.DRAINING]
        weight = pick.randint(target.weight + 1, 100) if others else 100
        request = {target.id: weight}
        if weight < 100:
            request[pick.choice(others).id] = 100 - weight
    else:  # every bit of traffic to generations without a healthy instance
        chosen = pick.sample(unhealthy, pick.randint(1, len(unhealthy)))
        request = _split(chosen, set(pick.sample(range(1, 100), len(chosen) - 1)))
    return request


def _checksum(snapshot: FleetSnapshot, request: dict[str, int], force: bool, salt: int) -> int:
    fleet_key = [(g.id, g.weight, g.state.value, g.healthy_count()) for g in snapshot.generations]
    return zlib.crc32(repr((fleet_key, sorted(request.items()), force, salt)).encode())


@st.composite
def shift_cases(draw, serving: bool = False, force: bool | None = None):
    """(fleet, request, force, valid): valid shifts, about one in ``BREAK_ONE_IN`` broken.

    Which ones, and how, follows from a checksum of the example and a wide salt, not
    from a drawn coin: Hypothesis draws small choices far from uniformly and repeats
    its simplest examples, so a coin (or the example alone) makes 0–20% of a run
    invalid, and the reach test would fail at random."""
    snapshot = draw(fleets(serving))
    force = draw(st.booleans()) if force is None else force
    request = draw(valid_shifts(snapshot, force))
    checksum = _checksum(snapshot, request, force, draw(st.integers(0, 2**32 - 1)))
    if checksum % BREAK_ONE_IN == 0:
        return snapshot, broken(snapshot, request, force, Random(checksum)), force, False
    return snapshot, request, force, True


def reach(prop: Callable[..., bool], *strategies: st.SearchStrategy, examples: int = 300):
    """Run ``prop`` on ``examples`` generated examples; it returns whether the example
    reached its assertion. The share that did is returned (and shown as events)."""
    counts: Counter[bool] = Counter()

    @settings(max_examples=examples, database=None)
    @given(st.tuples(*strategies))
    def run(args):
        reached = prop(*args)
        event(REACHED if reached else STOPPED)
        counts[reached] += 1

    run()
    share = counts[True] / max(1, counts.total())
    print(f"{prop.__name__}: {counts[True]}/{counts.total()} examples reached the assertion")
    return share


def _plan(case) -> dict[str, int] | None:
    """The guards' plan for a generated case: a valid shift must be accepted, an
    invalid one refused; None when refused."""
    snapshot, request, force, valid = case
    event("a valid shift" if valid else "an invalid shift")
    try:
        after = guards.plan_weights(snapshot, request, force=force)
    except (Refused, NotFound) as refusal:
        assert not valid, f"a valid shift {request} was refused: {refusal}"
        return None
    assert valid, f"an invalid shift {request} was accepted: {after}"
    assert after == {g.id: request.get(g.id, 0) for g in snapshot.generations}
    return after


def accepted_shift_is_whole_bounded_and_sums_to_100(case) -> bool:
    snapshot = case[0]
    after = _plan(case)
    if after is None:
        return False
    assert set(after) == {g.id for g in snapshot.generations}
    assert all(isinstance(w, int) and 0 <= w <= 100 for w in after.values())
    assert sum(after.values()) in ({100, 0} if sum(snapshot.weights.values()) == 0 else {100})
    return True


def unforced_shift_never_raises_weight_without_healthy_instances(case) -> bool:
    snapshot = case[0]
    after = _plan(case)
    if after is None:
        return False
    for g in snapshot.generations:
        if not g.has_healthy:
            assert after[g.id] <= g.weight
    return True


def healthy_traffic_is_never_cut_off(case) -> bool:
    snapshot = case[0]
    after = _plan(case)
    if after is None:
        return False
    assert any(after[g.id] and g.has_healthy for g in snapshot.generations)
    return True


def test_any_accepted_shift_is_whole_bounded_and_sums_to_100():
    assert reach(accepted_shift_is_whole_bounded_and_sums_to_100, shift_cases()) >= MIN_REACH


def test_unforced_shift_never_raises_weight_of_a_generation_without_healthy_instances():
    share = reach(
        unforced_shift_never_raises_weight_without_healthy_instances, shift_cases(force=False)
    )
    assert share >= MIN_REACH


def test_healthy_traffic_is_never_cut_off():
    assert reach(healthy_traffic_is_never_cut_off, shift_cases(serving=True)) >= MIN_REACH


def test_the_reach_meter_catches_a_property_that_cannot_fail():
    def refuses_everything(snapshot, request, force) -> bool:
        try:
            guards.plan_weights(snapshot, request, force=force)
        except (Refused, NotFound):
            return False
        return True

    old_requests = st.dictionaries(
        st.sampled_from(["g1", "g2", "g3", "g4", "g5"]), st.integers(-20, 120)
    )
    assert reach(refuses_everything, fleets(), old_requests, st.booleans()) < MIN_REACH


def only_generations_without_traffic_are_retirable(snapshot: FleetSnapshot) -> bool:
    for g in snapshot.generations:
        if g.weight > 0:
            with pytest.raises(Refused):
                guards.check_retire(snapshot, g.id)
        else:
            assert guards.check_retire(snapshot, g.id) == g
    return True


def test_only_generations_without_traffic_are_retirable():
    assert reach(only_generations_without_traffic_are_retirable, fleets()) >= MIN_REACH


@st.composite
def rollback_fleets(draw):
    """Fleets of 2–5 generations a rollback can act on: traffic on the newest one or
    two live generations; before them healthy, unhealthy and draining ones in any mix,
    one of them (at least) healthy and not draining."""
    count = draw(st.integers(2, 5))
    gens = [draw(healths) for _ in range(count)]
    newest = draw(st.integers(1, count - 1))
    weights = [0] * count
    weights[newest] = draw(st.sampled_from([100, 70, 50]))
    weights[draw(st.integers(0, newest - 1))] += 100 - weights[newest]
    older = draw(st.integers(0, newest - 1))
    gens[older] = (H, *gens[older][1:])
    draining = [
        i != older and weights[i] == 0 and draw(st.sampled_from([False, False, True]))
        for i in range(count)
    ]
    lifecycles = [Lifecycle.DRAINING if d else Lifecycle.ACTIVE for d in draining]
    return fleet(*(generation(i + 1, weights[i], gens[i], lifecycles[i]) for i in range(count)))


def rollback_goes_to_the_newest_older_healthy_generation(snapshot: FleetSnapshot) -> bool:
    live = [g.number for g in snapshot.generations if g.weight]
    older = [
        g
        for g in snapshot.generations
        if live
        and g.number < max(live)
        and g.has_healthy
        and g.state is not GenerationState.DRAINING
    ]
    if not older:
        with pytest.raises(Refused):
            guards.plan_rollback(snapshot)
        return False
    target, after = guards.plan_rollback(snapshot)
    assert target == older[-1].id
    assert after == {g.id: 100 if g.id == target else 0 for g in snapshot.generations}
    return True


def test_rollback_target_is_older_healthy_and_gets_all_traffic():
    share = reach(rollback_goes_to_the_newest_older_healthy_generation, rollback_fleets())
    assert share >= MIN_REACH


def test_an_unknown_generation_typed_with_an_escape_sequence_is_named_escaped():
    with pytest.raises(NotFound) as caught:
        guards.check_retire(fleet(generation(1, 100)), "g9\x1b[2J")
    assert "no generation g9\\x1b[2J" in caught.value.message
    assert caught.value.message.isprintable()
