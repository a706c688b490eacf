"""What real requests see on an SSH fleet, from HAProxy's ``show stat`` (read in the
same sweep as health): its counters are totals, so numbers over the window are the
differences between reads kept here. HAProxy gives averages, not percentiles — p50 and
p99 stay ``None``; ``avg_ms`` and ``max_ms`` are filled."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from backends.core.model import utcnow
from backends.core.traffic import Totals, Traffic, TrafficHistory
from backends.ssh.haproxy import ServerStat

WINDOW = 30.0
HISTORY = 600.0
STEP = 10


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # monotonic
    responses: int
    errors: int


class ServerMeter:
    """Each server's counters over the last ten minutes, one sample per read."""

    def __init__(self) -> None:
        self.samples: dict[str, deque[Sample]] = {}

    def read(self, stats: dict[str, ServerStat]) -> None:
        now = time.monotonic()
        for name, stat in stats.items():
            kept = self.samples.setdefault(name, deque())
            if kept and stat.responses < kept[-1].responses:
                kept.clear()  # the server was added again (HAProxy reloaded): counting anew
            kept.append(Sample(now, stat.responses, stat.errors))
            while kept and now - kept[0].at > HISTORY:
                kept.popleft()
        for name in list(self.samples):
            if name not in stats:
                del self.samples[name]

    def traffic(
        self, name: str, stat: ServerStat | None, *, history: bool = False
    ) -> Traffic | None:
        if stat is None:
            return None
        kept = self.samples.get(name)
        now = utcnow()
        if not kept or len(kept) < 2:  # one read: HAProxy's own last second
            return Traffic(
                window_s=1.0,
                requests=None,
                rps=float(stat.rate) if stat.rate is not None else None,
                error_rate=None,
                as_of=now,
                avg_ms=stat.rtime_ms,
                max_ms=stat.rtime_max_ms,
                totals=Totals(stat.responses, stat.errors),
            )
        newest = kept[-1]
        oldest = next((s for s in kept if newest.at - s.at <= WINDOW), kept[0])
        if oldest is newest:
            oldest = kept[-2]
        span = max(newest.at - oldest.at, 0.001)
        requests = newest.responses - oldest.responses
        errors = newest.errors - oldest.errors
        return Traffic(
            window_s=round(span, 1),
            requests=requests,
            rps=requests / span,
            error_rate=min(1.0, errors / requests) if requests else 0.0,
            as_of=now,
            avg_ms=stat.rtime_ms,
            max_ms=stat.rtime_max_ms,
            history=_history(kept) if history else None,
            totals=Totals(stat.responses, stat.errors),
        )


def _history(kept: deque[Sample]) -> TrafficHistory:
    steps = int(HISTORY // STEP)
    newest = kept[-1].at
    rps: list[float | None] = [None] * steps
    error_rate: list[float | None] = [None] * steps
    for index in range(steps):
        end = newest - (steps - 1 - index) * STEP
        inside = [s for s in kept if end - STEP <= s.at <= end]
        before = [s for s in kept if s.at < end - STEP]
        start = before[-1] if before else (inside[0] if len(inside) > 1 else None)
        if start is None or not inside or inside[-1] is start:
            continue
        span = inside[-1].at - start.at
        requests = inside[-1].responses - start.responses
        errors = inside[-1].errors - start.errors
        rps[index] = requests / span if span > 0 else None
        error_rate[index] = errors / requests if requests else 0.0
    return TrafficHistory(step_s=float(STEP), rps=tuple(rps), error_rate=tuple(error_rate))
