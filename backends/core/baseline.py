"""Judging a generation against its baseline — the older generation carrying the most
traffic — on what real requests saw: the error rate and the p99 latency. Pure
functions: the TUI flags with them, ``molt watch`` reports with them, and rollouts
decide with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.core import evidence
from backends.core.evidence import Counts
from backends.core.model import FleetSnapshot, Generation
from backends.core.traffic import Traffic, ms_text, percent_text

#: below this many requests in the window, a comparison says nothing
FLAG_MIN_REQUESTS = 20
#: the chance a flag's bound is wrong, per side and per look
FLAG_RISK = 0.0005
#: a p99 is not flagged for less than this over the baseline's (1 ms against 0.6 ms)
P99_SLACK_MS = 5.0


@dataclass(frozen=True, slots=True)
class Limits:
    """How much worse than its baseline a generation may do (rollout plans set them)."""

    max_error_rate: float = 0.01  # 0–1, absolute
    max_error_increase: float = 0.005  # over the baseline's error rate
    max_p99_ratio: float = 1.5  # over the baseline's p99
    min_requests: int = 100  # in the window, for a verdict


@dataclass(frozen=True, slots=True)
class Comparison:
    """One measure of a generation beside its baseline's."""

    measure: str  # "5xx" or "p99"
    value: float | None
    baseline_value: float | None
    worse: bool

    def text(self, baseline: str) -> str:
        """``5xx 31% vs 0.1% on g1``"""
        show = percent_text if self.measure == "5xx" else ms_text
        return f"{self.measure} {show(self.value)} vs {show(self.baseline_value)} on {baseline}"


def baseline(snapshot: FleetSnapshot, generation: str) -> Generation | None:
    """The generation older than ``generation`` that carries the most traffic (ties:
    the newest of them); None when no older one carries any."""
    target = snapshot.generation(generation)
    if target is None:
        return None
    older = [g for g in snapshot.generations if g.number < target.number and g.weight > 0]
    if not older:
        return None
    return max(older, key=lambda g: (g.weight, g.number))


def compare(candidate: Generation, base: Generation, limits: Limits = Limits()) -> list[Comparison]:
    """The error rate and p99 of ``candidate`` beside ``base``'s; ``worse`` where the
    candidate exceeds the baseline by more than ``limits`` allow. Nothing is judged on
    too few requests (either side)."""
    mine, theirs = candidate.traffic, base.traffic
    if mine is None or theirs is None:
        return []
    enough = (mine.requests or 0) >= FLAG_MIN_REQUESTS and (theirs.requests or 0) >= 1
    found = []
    if mine.error_rate is not None and theirs.error_rate is not None:
        worse = enough and _shown_worse(mine, theirs, limits.max_error_increase)
        found.append(Comparison("5xx", mine.error_rate, theirs.error_rate, worse))
    if mine.p99_ms is not None and theirs.p99_ms is not None:
        limit = max(theirs.p99_ms * limits.max_p99_ratio, theirs.p99_ms + P99_SLACK_MS)
        worse = enough and mine.p99_ms > limit
        found.append(Comparison("p99", mine.p99_ms, theirs.p99_ms, worse))
    return found


def _counts(traffic: Traffic) -> Counts:
    requests = traffic.requests or 0
    return Counts(requests, min(requests, round(requests * (traffic.error_rate or 0.0))))


def _shown_worse(mine: Traffic, theirs: Traffic, margin: float) -> bool:
    """The window's counts show the candidate failing more than its baseline's rate plus
    ``margin`` — with the judge's bounds, at :data:`FLAG_RISK` a side: a good release is
    not flagged for a few unlucky requests, however often the columns look."""
    base_high = evidence.upper(_counts(theirs), FLAG_RISK)
    return evidence.above(_counts(mine), min(1.0, base_high + margin), FLAG_RISK)


def worse_than_baseline(snapshot: FleetSnapshot, generation: str) -> list[str]:
    """What a column shows in the warning color: ``5xx 31% vs 0.1% on g1``."""
    target, base = snapshot.generation(generation), baseline(snapshot, generation)
    if target is None or base is None:
        return []
    return [c.text(base.id) for c in compare(target, base) if c.worse]
