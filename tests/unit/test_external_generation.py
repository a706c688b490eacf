"""The external generation ``g0`` (issue 21): what ran behind the load balancer before
Molt, shifted and rolled back to like any generation, never treated as launched."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.core import guards
from backends.core.baseline import baseline
from backends.core.errors import NotFound, Refused
from backends.core.model import Generation
from tests.unit.factories import fleet, generation


def external(weight: int) -> Generation:
    g0 = generation(0, weight)
    return replace(g0, version="external", extra={"external": "true"})


def test_g0_is_external_and_says_so_in_json():
    g0 = external(100)
    assert g0.external and g0.number == 0
    assert g0.to_json()["external"] is True
    assert Generation.from_json(g0.to_json()).external
    assert "external" not in generation(1).to_json()  # Molt's own: unchanged


def test_rollback_from_molts_first_generation_goes_back_to_g0():
    snapshot = fleet(external(10), generation(1, 90))
    assert guards.plan_rollback(snapshot) == ("g0", {"g0": 100, "g1": 0})


@given(st.integers(0, 100))
def test_g0_retires_only_without_traffic(weight):
    snapshot = fleet(external(weight), generation(1, 100 - weight))
    if weight:
        with pytest.raises(Refused, match=f"g0 still carries {weight}%"):
            guards.check_retire(snapshot, "g0")
    else:
        assert guards.check_retire(snapshot, "g0").external


def test_nothing_launched_g0_so_nothing_holds_it_to_a_launch():
    with pytest.raises(Refused, match="g0 was not launched by Molt"):
        guards.check_launched_by_molt("g0", "launch template version")
    guards.check_launched_by_molt("g1", "launch template version")
    with pytest.raises(NotFound, match="there is no g0"):
        guards.check_external_present("web", False)


def test_g0_is_the_baseline_of_molts_first_generation():
    snapshot = fleet(external(90), generation(1, 10))
    found = baseline(snapshot, "g1")
    assert found is not None and found.id == "g0"
