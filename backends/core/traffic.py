"""What real requests see, per instance and per generation: request rate, error rate,
latency — over a sliding window, from the traffic path Molt controls.

Each source fills what it can and leaves the rest ``None``: the local proxy measures
percentiles, HAProxy gives averages and maxima, CloudWatch gives percentiles per target
group (not per instance). Nothing is invented to fill a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backends.core.clock import iso, parse_iso, utcnow


@dataclass(frozen=True, slots=True)
class TrafficHistory:
    """Request rate and error rate in steps of ``step_s`` seconds, oldest first (what
    the sparklines draw); ``None`` where nothing is known for a step."""

    step_s: float
    rps: tuple[float | None, ...] = ()
    error_rate: tuple[float | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"step_s": self.step_s, "rps": list(self.rps), "error_rate": list(self.error_rate)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrafficHistory:
        return cls(
            step_s=float(data["step_s"]),
            rps=tuple(data.get("rps") or ()),
            error_rate=tuple(data.get("error_rate") or ()),
        )


@dataclass(frozen=True, slots=True)
class Totals:
    """Counters since the source began counting — monotonic until it starts again (an
    agent or HAProxy restarted). ``latency``: how many requests answered in about each
    time, ``(ms, count)`` by rising ms, where the source sees every request's latency
    (the local proxy); None where it does not (HAProxy, CloudWatch)."""

    requests: int
    errors: int
    latency: tuple[tuple[float, int], ...] | None = None

    def slow(self, threshold_ms: float) -> int | None:
        """Requests that took longer than ``threshold_ms`` (None: latency unknown)."""
        if self.latency is None:
            return None
        return sum(count for ms, count in self.latency if ms > threshold_ms)

    def since(self, earlier: Totals | None) -> Totals | None:
        """What was counted after ``earlier`` (all of it when None); None when the
        counters went back (the source restarted: nothing since ``earlier`` is known)."""
        if earlier is None:
            return self
        if self.requests < earlier.requests or self.errors < earlier.errors:
            return None
        latency = None
        if self.latency is not None and earlier.latency is not None:
            before = dict(earlier.latency)
            latency = tuple((ms, n - before.get(ms, 0)) for ms, n in self.latency)
            if any(n < 0 for _, n in latency):
                return None
        return Totals(self.requests - earlier.requests, self.errors - earlier.errors, latency)

    def __add__(self, other: Totals) -> Totals:
        latency = None
        if self.latency is not None and other.latency is not None:
            merged = dict(self.latency)
            for ms, n in other.latency:
                merged[ms] = merged.get(ms, 0) + n
            latency = tuple(sorted(merged.items()))
        return Totals(self.requests + other.requests, self.errors + other.errors, latency)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"requests": self.requests, "errors": self.errors}
        if self.latency is not None:
            data["latency"] = [[ms, n] for ms, n in self.latency]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Totals | None:
        if not data:
            return None
        latency = data.get("latency")
        return cls(
            requests=int(data["requests"]),
            errors=int(data["errors"]),
            latency=None if latency is None else tuple((float(m), int(n)) for m, n in latency),
        )


@dataclass(frozen=True, slots=True)
class Traffic:
    """Requests over the last ``window_s`` seconds; ``error_rate`` is 0–1 (5xx answers
    plus requests the traffic layer could not deliver)."""

    window_s: float | None
    requests: int | None
    rps: float | None
    error_rate: float | None
    as_of: datetime
    p50_ms: float | None = None
    p99_ms: float | None = None
    avg_ms: float | None = None
    max_ms: float | None = None
    history: TrafficHistory | None = field(default=None, compare=False)
    #: counters since the source began counting (what a rollout's judge counts from)
    totals: Totals | None = field(default=None, compare=False)

    @property
    def errors(self) -> float | None:
        if self.requests is None or self.error_rate is None:
            return None
        return self.requests * self.error_rate

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "window_s": self.window_s,
            "requests": self.requests,
            "rps": _round(self.rps, 1),
            "error_rate": _round(self.error_rate, 4),
            "p50_ms": _round(self.p50_ms, 1),
            "p99_ms": _round(self.p99_ms, 1),
            "avg_ms": _round(self.avg_ms, 1),
            "max_ms": _round(self.max_ms, 1),
            "as_of": iso(self.as_of),
        }
        if self.history is not None:
            data["history"] = self.history.to_json()
        if self.totals is not None:
            data["totals"] = self.totals.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Traffic | None:
        if not data:
            return None
        history = data.get("history")
        return cls(
            window_s=data.get("window_s"),
            requests=data.get("requests"),
            rps=data.get("rps"),
            error_rate=data.get("error_rate"),
            as_of=parse_iso(data.get("as_of")) or utcnow(),
            p50_ms=data.get("p50_ms"),
            p99_ms=data.get("p99_ms"),
            avg_ms=data.get("avg_ms"),
            max_ms=data.get("max_ms"),
            history=TrafficHistory.from_json(history) if history else None,
            totals=Totals.from_json(data.get("totals")),
        )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def combine(parts: Iterable[Traffic | None], as_of: datetime) -> Traffic | None:
    """A generation's traffic from its instances': counts add up; rates weigh by
    requests; percentiles cannot be combined from percentiles, so the worst instance's
    p99 (and the request-weighted p50) stand for the generation — the sources that can
    do better (the local proxy) measure the generation directly instead."""
    seen = [t for t in parts if t is not None]
    known = [t for t in seen if t.requests is not None]
    totals = _sum_totals([t.totals for t in seen])
    if not known:
        if totals is None:
            return None
        return Traffic(None, None, None, None, as_of, totals=totals)
    requests = sum(t.requests or 0 for t in known)
    rates = [t.rps for t in known if t.rps is not None]
    errors = [t.errors for t in known if t.errors is not None]

    def weighted(values: Sequence[tuple[float | None, int]]) -> float | None:
        pairs = [(v, n) for v, n in values if v is not None]
        total = sum(n for _, n in pairs)
        return sum(v * n for v, n in pairs) / total if total else None

    return Traffic(
        window_s=max((t.window_s or 0) for t in known) or None,
        requests=requests,
        rps=sum(rates) if rates else None,
        error_rate=(sum(errors) / requests if requests else 0.0) if errors else None,
        as_of=as_of,
        p50_ms=weighted([(t.p50_ms, t.requests or 0) for t in known]),
        p99_ms=max((t.p99_ms for t in known if t.p99_ms is not None), default=None),
        avg_ms=weighted([(t.avg_ms, t.requests or 0) for t in known]),
        max_ms=max((t.max_ms for t in known if t.max_ms is not None), default=None),
        totals=totals,
    )


def _sum_totals(parts: Sequence[Totals | None]) -> Totals | None:
    """The parts' counters added up; None unless every part has them."""
    if not parts or any(t is None for t in parts):
        return None
    total = Totals(0, 0, ())
    for part in parts:
        assert part is not None
        total = total + part
    return total


def merge_histories(histories: Sequence[TrafficHistory]) -> TrafficHistory:
    """Several instances' histories (same steps) as one: rates add up, error rates weigh
    by rate."""
    steps = max(len(h.rps) for h in histories)
    rps: list[float | None] = []
    error_rate: list[float | None] = []
    for index in range(steps):
        points = [
            (h.rps[index], h.error_rate[index])
            for h in histories
            if index < len(h.rps) and h.rps[index] is not None
        ]
        total = sum(r or 0.0 for r, _ in points)
        rps.append(total if points else None)
        weighted = sum((r or 0.0) * (e or 0.0) for r, e in points)
        error_rate.append((weighted / total if total else 0.0) if points else None)
    return TrafficHistory(histories[0].step_s, tuple(rps), tuple(error_rate))


def rate_text(rps: float | None) -> str:
    if rps is None:
        return "— req/s"
    return f"{rps:.0f} req/s" if rps >= 10 else f"{rps:.1f} req/s"


def percent_text(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    percent = fraction * 100
    if percent == 0:
        return "0%"
    return f"{percent:.1f}%" if percent < 10 else f"{percent:.0f}%"


def ms_text(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def traffic_line(traffic: Traffic | None) -> str:
    """``41 req/s  5xx 0.4%  p99 18 ms`` (``avg`` when the source has no percentiles);
    ``no traffic seen yet`` when nothing is known."""
    if traffic is None:
        return "no traffic seen yet"
    latency = (
        f"p99 {ms_text(traffic.p99_ms)}"
        if traffic.p99_ms is not None or traffic.avg_ms is None
        else f"avg {ms_text(traffic.avg_ms)}"
    )
    return f"{rate_text(traffic.rps)}  5xx {percent_text(traffic.error_rate)}  {latency}"
