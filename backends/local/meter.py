"""What the local proxy saw of real requests: per instance, one slot per second holding
the count, the errors and a latency histogram, for the last ten minutes.

Recording is in the proxy's hot path, so it is a few integer operations and a dict
update: latencies go into log-linear buckets (four per power of two of microseconds,
within 19% of the true value), from which p50 and p99 are read when a snapshot asks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime

from backends.core.traffic import Totals, Traffic, TrafficHistory

WINDOW = 30.0  # seconds the numbers are over
HISTORY = 600  # seconds of history kept (the sparklines' ten minutes)
STEP = 10  # seconds per sparkline point


class Slot:
    __slots__ = ("second", "requests", "errors", "total_us", "max_us", "buckets")

    def __init__(self, second: int) -> None:
        self.second = second
        self.requests = 0
        self.errors = 0
        self.total_us = 0
        self.max_us = 0
        self.buckets: dict[int, int] = {}


def bucket(us: int) -> int:
    """Four buckets per power of two: the top three bits of the value."""
    bits = us.bit_length()
    return us if bits < 3 else (bits << 2) | ((us >> (bits - 3)) & 3)


def bucket_value(index: int) -> float:
    """A bucket's middle, in microseconds."""
    bits, sub = index >> 2, index & 3
    if bits < 3:
        return float(index)
    low = (4 | sub) << (bits - 3)
    return low + (1 << (bits - 3)) / 2


def percentile(buckets: dict[int, int], count: int, fraction: float) -> float:
    """The latency (ms) under which ``fraction`` of the requests answered."""
    rank = fraction * count
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= rank:
            return bucket_value(index) / 1000
    return 0.0


class InstanceMeter:
    """The slots of one instance, newest last."""

    __slots__ = ("slots", "first", "requests", "errors", "buckets")

    def __init__(self, now: float) -> None:
        self.slots: deque[Slot] = deque(maxlen=HISTORY)
        self.first = now
        # counted since the instance's first request: what a rollout's judge counts from
        self.requests = 0
        self.errors = 0
        self.buckets: dict[int, int] = {}

    def record(self, now: float, seconds: float, failed: bool) -> None:
        second = int(now)
        slots = self.slots
        if not slots or slots[-1].second != second:
            slots.append(Slot(second))
        slot = slots[-1]
        slot.requests += 1
        self.requests += 1
        if failed:
            slot.errors += 1
            self.errors += 1
        us = int(seconds * 1_000_000) + 1
        slot.total_us += us
        if us > slot.max_us:
            slot.max_us = us
        index = bucket(us)
        slot.buckets[index] = slot.buckets.get(index, 0) + 1
        self.buckets[index] = self.buckets.get(index, 0) + 1


class Meter:
    """Every instance's meter, keyed by instance id; the proxy records, snapshots read."""

    def __init__(self) -> None:
        self.instances: dict[str, InstanceMeter] = {}

    def record(self, instance: str, seconds: float, status: int) -> None:
        """One request answered with ``status`` (0: the proxy could not deliver it)."""
        now = time.monotonic()
        meter = self.instances.get(instance)
        if meter is None:
            meter = self.instances[instance] = InstanceMeter(now)
        meter.record(now, seconds, status == 0 or status >= 500)

    def forget(self, instance: str) -> None:
        self.instances.pop(instance, None)

    def traffic(
        self, instances: Iterable[str], as_of: datetime, *, history: bool
    ) -> Traffic | None:
        """The numbers of ``instances`` together (one instance, or a whole generation),
        over the last :data:`WINDOW` seconds — None when none of them was ever asked."""
        meters = [m for i in instances if (m := self.instances.get(i)) is not None]
        if not meters:
            return None
        now = time.monotonic()
        since = int(now - WINDOW) + 1
        requests = errors = total_us = max_us = 0
        buckets: dict[int, int] = {}
        for meter in meters:
            for slot in reversed(meter.slots):
                if slot.second < since:
                    break
                requests += slot.requests
                errors += slot.errors
                total_us += slot.total_us
                max_us = max(max_us, slot.max_us)
                for index, count in slot.buckets.items():
                    buckets[index] = buckets.get(index, 0) + count
        window = min(WINDOW, max(1.0, now - min(m.first for m in meters)))
        measured = requests > 0
        return Traffic(
            window_s=round(window, 1),
            requests=requests,
            rps=requests / window,
            error_rate=errors / requests if measured else 0.0,
            as_of=as_of,
            p50_ms=percentile(buckets, requests, 0.50) if measured else None,
            p99_ms=percentile(buckets, requests, 0.99) if measured else None,
            avg_ms=total_us / requests / 1000 if measured else None,
            max_ms=max_us / 1000 if measured else None,
            history=self._history(meters, now) if history else None,
            totals=_totals(meters) if history else None,
        )

    @staticmethod
    def _history(meters: list[InstanceMeter], now: float) -> TrafficHistory:
        steps = HISTORY // STEP
        newest = int(now) // STEP
        requests = [0] * steps
        errors = [0] * steps
        for meter in meters:
            for slot in meter.slots:
                index = steps - 1 - (newest - slot.second // STEP)
                if 0 <= index < steps:
                    requests[index] += slot.requests
                    errors[index] += slot.errors
        start = min(m.first for m in meters)
        known = [newest - (steps - 1 - i) >= int(start) // STEP for i in range(steps)]
        return TrafficHistory(
            step_s=float(STEP),
            rps=tuple(r / STEP if k else None for r, k in zip(requests, known, strict=True)),
            error_rate=tuple(
                (e / r if r else 0.0) if k else None
                for r, e, k in zip(requests, errors, known, strict=True)
            ),
        )


def _totals(meters: list[InstanceMeter]) -> Totals:
    """The meters' counters together, latency by bucket middle (ms)."""
    buckets: dict[int, int] = {}
    for meter in meters:
        for index, count in meter.buckets.items():
            buckets[index] = buckets.get(index, 0) + count
    return Totals(
        requests=sum(m.requests for m in meters),
        errors=sum(m.errors for m in meters),
        latency=tuple((bucket_value(i) / 1000, buckets[i]) for i in sorted(buckets)),
    )
