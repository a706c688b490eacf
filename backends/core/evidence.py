"""Anytime-valid bounds on a rate from counts: how sure can we be that a generation fails
(or is slow on) at most, or at least, some fraction of its requests — however often we
look at the counts as they grow.

A rate ``p`` seen as ``k`` bad requests of ``n`` is bounded by a *confidence sequence*
(Robbins' mixture: Robbins 1970; Howard, Ramdas et al. 2021): the likelihood of the
counts mixed over a Beta prior, against their likelihood at ``p``. That ratio is a
nonnegative martingale when ``p`` is the true rate, so by Ville's inequality it ever
reaches ``1/α`` with probability at most ``α`` — at every look, not one fixed look.
Every ``p`` whose ratio is still below ``1/α`` stays in the sequence; the bounds are the
ends of that interval. Pure functions of the counts, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

#: the Beta prior the likelihood is mixed over: weight near rare rates (errors and slow
#: requests are rare in a healthy service), still wide enough to bound 30% quickly
PRIOR_A = 0.5
PRIOR_B = 20.0
_BISECT = 30  # halvings of the interval: a billionth, far finer than any rate shown


@dataclass(frozen=True, slots=True)
class Counts:
    """Requests seen, and how many of them were bad (5xx, or slow)."""

    requests: int
    bad: int

    def __post_init__(self) -> None:
        if not 0 <= self.bad <= self.requests:
            raise ValueError(f"{self.bad} bad of {self.requests} requests")

    @property
    def rate(self) -> float | None:
        return self.bad / self.requests if self.requests else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.requests + other.requests, self.bad + other.bad)


@lru_cache(maxsize=65536)
def _log_mixture(n: int, k: int) -> float:
    return _log_beta(PRIOR_A + k, PRIOR_B + n - k) - _log_beta(PRIOR_A, PRIOR_B)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def log_evidence(counts: Counts, p: float) -> float:
    """log of the mixture likelihood ratio against the rate ``p``: how strongly the counts
    speak against ``p`` (``log(1/α)`` or more: ``p`` is out, at level ``α``)."""
    n, k = counts.requests, counts.bad
    if n == 0:
        return 0.0
    if p <= 0.0:
        return math.inf if k > 0 else _log_mixture(n, 0)
    if p >= 1.0:
        return math.inf if k < n else _log_mixture(n, n)
    return _log_mixture(n, k) - k * math.log(p) - (n - k) * math.log1p(-p)


def upper(counts: Counts, alpha: float) -> float:
    """The rate is at most this, at level ``alpha``, at every look."""
    if counts.requests == 0 or log_evidence(counts, 1.0) < math.log(1 / alpha):
        return 1.0
    return _edge(counts, alpha, 1.0)


def lower(counts: Counts, alpha: float) -> float:
    """The rate is at least this, at level ``alpha``, at every look."""
    if counts.requests == 0 or counts.bad == 0:
        return 0.0
    return _edge(counts, alpha, 0.0)


def _edge(counts: Counts, alpha: float, outside: float) -> float:
    """The end of the confidence sequence between the rate seen (inside it) and
    ``outside``, found by halving; the answer errs outward (a wider interval)."""
    level = math.log(1 / alpha)
    inside = counts.bad / counts.requests
    for _ in range(_BISECT):
        middle = (inside + outside) / 2
        if log_evidence(counts, middle) < level:
            inside = middle
        else:
            outside = middle
    return outside


def above(counts: Counts, p: float, alpha: float) -> bool:
    """The counts show, at level ``alpha``, that the rate is more than ``p``
    (``lower(counts, alpha) > p`` without the search)."""
    n = counts.requests
    return n > 0 and counts.bad > p * n and log_evidence(counts, p) >= math.log(1 / alpha)


def below(counts: Counts, p: float, alpha: float) -> bool:
    """The counts show, at level ``alpha``, that the rate is at most ``p``."""
    n = counts.requests
    return n > 0 and counts.bad <= p * n and log_evidence(counts, p) >= math.log(1 / alpha)


def requests_to_show_below(rate: float, p: float, alpha: float, *, most: int = 10**8) -> int | None:
    """How many requests a generation failing ``rate`` of them needs in all before its
    counts show a rate of at most ``p`` (None: never, or not within ``most``)."""
    if rate >= p:
        return None

    def shown(n: int) -> bool:
        return below(Counts(n, math.floor(rate * n)), p, alpha)

    n = 16
    while not shown(n):
        n *= 2
        if n > most:
            return None
    low, high = n // 2, n
    while high - low > max(1, low // 100):
        middle = (low + high) // 2
        if shown(middle):
            high = middle
        else:
            low = middle
    return high
