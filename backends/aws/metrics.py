"""What real requests see on AWS: the ALB's CloudWatch metrics per target group (one per
generation), read with one ``GetMetricData`` call for all generations, at CloudWatch's
own period (60 s) — not at every poll.

The ALB publishes per target group, not per target, so instances carry no numbers of
their own on AWS. Errors are the targets' 5xx answers; the load balancer's own 5xx
(no target reachable) are counted per load balancer only and are not attributed.

The call goes through one seam, :class:`MetricSource` (as target health does): moto
stores metrics but cannot compute percentiles, so the tests substitute a source that
makes the same call with the percentiles asked as averages.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from backends.aws.api import AwsApi
from backends.aws.reading import GroupRecord
from backends.core.errors import BackendError
from backends.core.model import utcnow
from backends.core.traffic import Totals, Traffic

PERIOD = 60  # seconds: the ALB publishes one datapoint per minute
LOOK_BACK = timedelta(minutes=5)  # the newest complete datapoint is in there
NAMESPACE = "AWS/ApplicationELB"
#: query id prefix → (metric, statistic)
QUERIES = {
    "r": ("RequestCount", "Sum"),
    "e": ("HTTPCode_Target_5XX_Count", "Sum"),
    "m": ("TargetResponseTime", "p50"),
    "n": ("TargetResponseTime", "p99"),
    "a": ("TargetResponseTime", "Average"),
    "x": ("TargetResponseTime", "Maximum"),
}


class MetricSource(Protocol):
    """Makes one ``GetMetricData`` call (blocking; run in a thread)."""

    def __call__(self, cloudwatch: Any, **request: Any) -> Mapping[str, Any]: ...


def get_metric_data(cloudwatch: Any, **request: Any) -> Mapping[str, Any]:
    answer: Mapping[str, Any] = cloudwatch.get_metric_data(**request)
    return answer


def dimension(arn: str, kind: str) -> str:
    """``targetgroup/name/id`` or ``app/name/id``: the metric dimension in an ARN."""
    return kind + "/" + arn.split(f":{kind}/", 1)[1]


class Metrics:
    """The fleet's traffic numbers, fetched at most once per :data:`PERIOD`."""

    def __init__(self, api: AwsApi, listener_arn: str) -> None:
        self.api = api
        self.load_balancer = "app/" + listener_arn.split(":listener/app/", 1)[1].rsplit("/", 1)[0]
        self.source: MetricSource = get_metric_data
        self.problem = ""
        self._fetched = float("-inf")
        self._groups: tuple[str, ...] = ()
        self._numbers: dict[str, Traffic] = {}
        #: requests and 5xx of each minute seen lately, and of every minute seen before,
        #: by target group: the counters a rollout's judge counts from
        self._minutes: dict[str, dict[datetime, tuple[int, int]]] = {}
        self._older: dict[str, tuple[int, int]] = {}

    async def traffic(
        self, records: Sequence[GroupRecord], also: Sequence[str] = ()
    ) -> dict[str, Traffic]:
        """Target group ARN → its numbers (none for a group CloudWatch has not seen);
        ``also``: target groups that are not a generation's own (the external one's)."""
        mine = [r.target_group for r in records if r.target_group]
        groups = tuple(sorted({*mine, *also}))
        fresh = time.monotonic() - self._fetched < PERIOD
        if groups and (not fresh or groups != self._groups):
            try:
                self._numbers = await self._fetch(groups)
                self.problem = ""
            except BackendError as error:
                self.problem = f"traffic numbers unavailable: {error.message}"
                self._numbers = {}
            self._fetched, self._groups = time.monotonic(), groups
        found: dict[str, Traffic] = {}
        for group in groups:
            numbers = self._numbers.get(group)
            if numbers is not None:
                found[group] = replace(numbers, totals=self._totals(group))
            elif group in self._minutes:
                found[group] = Traffic(None, None, None, None, utcnow(), totals=self._totals(group))
        return found

    def _count(
        self,
        arn: str,
        stamps: Sequence[datetime],
        requests: Sequence[float],
        errors: Mapping[datetime, float],
        now: datetime,
    ) -> None:
        """Count each minute once; a minute CloudWatch revises is counted at its newest
        value; minutes older than the look-back are folded into one sum (bounded)."""
        minutes = self._minutes.setdefault(arn, {})
        for stamp, value in zip(stamps, requests, strict=False):
            minutes[stamp] = (int(value), int(errors.get(stamp, 0.0)))
        older = self._older.get(arn, (0, 0))
        for stamp in [s for s in minutes if s < now - 2 * LOOK_BACK]:
            r, e = minutes.pop(stamp)
            older = (older[0] + r, older[1] + e)
        self._older[arn] = older

    def _totals(self, arn: str) -> Totals:
        requests, errors = self._older.get(arn, (0, 0))
        for r, e in self._minutes.get(arn, {}).values():
            requests, errors = requests + r, errors + e
        return Totals(requests, errors)

    async def _fetch(self, groups: tuple[str, ...]) -> dict[str, Traffic]:
        now = utcnow()
        queries = []
        for index, arn in enumerate(groups):
            dimensions = [
                {"Name": "TargetGroup", "Value": dimension(arn, "targetgroup")},
                {"Name": "LoadBalancer", "Value": self.load_balancer},
            ]
            for prefix, (metric, stat) in QUERIES.items():
                queries.append(
                    {
                        "Id": f"{prefix}{index}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": NAMESPACE,
                                "MetricName": metric,
                                "Dimensions": dimensions,
                            },
                            "Period": PERIOD,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )

        def work() -> Mapping[str, Any]:
            return self.source(
                self.api.client("cloudwatch"),
                MetricDataQueries=queries,
                StartTime=now - LOOK_BACK,
                EndTime=now,
                ScanBy="TimestampDescending",
            )

        answer = await self.api.run(work, "the ALB's CloudWatch metrics")
        latest: dict[str, tuple[datetime, float]] = {}
        series: dict[str, tuple[list[datetime], list[float]]] = {}
        for result in answer.get("MetricDataResults", []):
            stamps, values = result.get("Timestamps") or [], result.get("Values") or []
            if stamps and values:
                newest = max(range(len(stamps)), key=lambda i: stamps[i])
                latest[str(result["Id"])] = (stamps[newest], float(values[newest]))
                series[str(result["Id"])] = (list(stamps), [float(v) for v in values])
        for index, arn in enumerate(groups):
            stamps, requests = series.get(f"r{index}", ([], []))
            errors = dict(zip(*series.get(f"e{index}", ([], [])), strict=False))
            self._count(arn, stamps, requests, errors, now)
        return {
            arn: numbers
            for index, arn in enumerate(groups)
            if (numbers := _numbers(latest, index)) is not None
        }


def _numbers(latest: Mapping[str, tuple[datetime, float]], index: int) -> Traffic | None:
    def value(prefix: str) -> float | None:
        found = latest.get(f"{prefix}{index}")
        return found[1] if found else None

    requests = value("r")
    if requests is None:
        return None
    errors = value("e") or 0.0

    def ms(prefix: str) -> float | None:
        seconds = value(prefix)
        return None if seconds is None else seconds * 1000

    return Traffic(
        window_s=float(PERIOD),
        requests=int(requests),
        rps=requests / PERIOD,
        error_rate=min(1.0, errors / requests) if requests else 0.0,
        as_of=latest[f"r{index}"][0] + timedelta(seconds=PERIOD),  # the minute's end
        p50_ms=ms("m"),
        p99_ms=ms("n"),
        avg_ms=ms("a"),
        max_ms=ms("x"),
    )
