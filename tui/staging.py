"""Staged traffic shifts: ``+``/``-`` move a step of traffic toward or away from the
selected generation, on paper, before anything changes. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping

from backends.core.model import FleetSnapshot, GenerationState, generation_number

STEP = 10  # points of traffic per key press


class CannotStage(Exception):
    """Why a step cannot be staged (shown to the operator; nothing changes)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def stage_step(
    snapshot: FleetSnapshot,
    staged: Mapping[str, int] | None,
    selected: str,
    step: int,
) -> dict[str, int] | None:
    """The fleet's weights after one more step on top of ``staged`` (or the live weights).

    A positive ``step`` moves traffic toward ``selected``, taken from the generation that
    carries the most traffic; a negative one gives it to the generation that carries the
    most (ties: a healthy one, then the newest). Returns ``None`` when the result equals
    the live weights (nothing left staged).

    Raises:
        CannotStage: there is nothing to move.
    """
    weights = dict(staged) if staged is not None else dict(snapshot.weights)
    if selected not in weights:
        raise CannotStage(f"{selected} is not part of the fleet any more")
    others = [g for g in weights if g != selected]
    if not others:
        raise CannotStage(f"{selected} is the only generation: there is nowhere to shift")
    if step > 0:
        _toward(weights, selected, others, step)
    else:
        _away(snapshot, weights, selected, others, -step)
    return None if weights == snapshot.weights else weights


def _toward(weights: dict[str, int], selected: str, others: list[str], step: int) -> None:
    donors = [g for g in others if weights[g] > 0]
    if not donors:
        if weights[selected] == 100:
            raise CannotStage(f"{selected} already carries all the traffic")
        raise CannotStage("nothing carries traffic yet: promote a generation first (p)")
    donor = max(donors, key=lambda g: (weights[g], -generation_number(g)))
    amount = min(step, weights[donor])
    weights[donor] -= amount
    weights[selected] += amount


def _away(
    snapshot: FleetSnapshot,
    weights: dict[str, int],
    selected: str,
    others: list[str],
    step: int,
) -> None:
    if weights[selected] == 0:
        raise CannotStage(f"{selected} carries no traffic to give away")
    receivers = [
        g
        for g in others
        if (found := snapshot.generation(g)) is not None
        and found.state is not GenerationState.DRAINING
    ]
    if not receivers:
        raise CannotStage(f"no other generation can take traffic from {selected}")

    def rank(g: str) -> tuple[int, bool, int]:
        found = snapshot.generation(g)
        return weights[g], bool(found and found.has_healthy), generation_number(g)

    receiver = max(receivers, key=rank)
    amount = min(step, weights[selected])
    weights[selected] -= amount
    weights[receiver] += amount


def still_applies(snapshot: FleetSnapshot, staged: Mapping[str, int]) -> bool:
    """A staged shift is dropped when the fleet's generations changed under it."""
    return set(staged) == set(snapshot.weights) and staged != snapshot.weights
