"""HTTP health checks of local instances, judged by thresholds over consecutive results."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from backends.core.model import Health


@dataclass(slots=True)
class HealthJudge:
    """``pending`` → ``healthy`` after N passes in a row, → ``unhealthy`` after M failures
    in a row; either way back once the other threshold is met.

    Until an instance passes its first check, failures do not count for
    ``start_period`` seconds after ``started`` (monotonic): a service that takes a minute
    to listen stays pending, not failed."""

    healthy_threshold: int
    unhealthy_threshold: int
    start_period: float = 0.0
    started: float = field(default_factory=time.monotonic)
    health: Health = Health.PENDING
    passes: int = 0
    failures: int = 0
    passed_once: bool = False

    def starting(self, now: float | None = None) -> float:
        """Seconds of the start period left (0 once it is over or the first check passed)."""
        if self.passed_once:
            return 0.0
        now = time.monotonic() if now is None else now
        return max(0.0, self.start_period - (now - self.started))

    def observe(self, passed: bool, now: float | None = None) -> Health | None:
        """Record one check; return the new health if it changed."""
        if passed:
            self.passed_once = True
            self.passes, self.failures = self.passes + 1, 0
            if self.health is not Health.HEALTHY and self.passes >= self.healthy_threshold:
                self.health = Health.HEALTHY
                return self.health
        elif self.starting(now) > 0:
            self.passes = 0  # still starting: this failure does not count
        else:
            self.failures, self.passes = self.failures + 1, 0
            if self.health is not Health.UNHEALTHY and self.failures >= self.unhealthy_threshold:
                self.health = Health.UNHEALTHY
                return self.health
        return None

    def failed_now(self) -> Health | None:
        """The process is gone: unhealthy at once, whatever the thresholds."""
        self.passes, self.failures = 0, self.unhealthy_threshold
        if self.health is Health.UNHEALTHY:
            return None
        self.health = Health.UNHEALTHY
        return self.health

    def reset(self) -> None:
        self.health, self.passes, self.failures = Health.PENDING, 0, 0


@dataclass(frozen=True, slots=True)
class CheckResult:
    passed: bool
    text: str  # what the operator reads: "200 in 3 ms", "GET /healthz → 500"
    latency_ms: float | None


async def probe(session: aiohttp.ClientSession, url: str, path: str, timeout: float) -> CheckResult:
    """One HTTP check: a 2xx/3xx answer within ``timeout`` passes."""
    started = time.perf_counter()
    try:
        async with session.get(
            url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            await response.read()
            latency = (time.perf_counter() - started) * 1000
            if response.status < 400:
                return CheckResult(True, f"{response.status} in {latency:.0f} ms", latency)
            return CheckResult(False, f"GET {path} → {response.status}", latency)
    except TimeoutError:
        return CheckResult(False, f"GET {path} timed out after {timeout:g} s", None)
    except aiohttp.ClientConnectorError as error:
        reason = error.os_error.strerror or "connection failed"
        return CheckResult(False, f"GET {path}: {reason.lower()}", None)
    except (aiohttp.ClientError, OSError) as error:
        return CheckResult(False, f"GET {path}: {type(error).__name__}", None)


def describe_check(after: Health, result: CheckResult, judge: HealthJudge) -> str:
    """``GET /healthz → 500 (2/2 failed)``: the check that decided a transition."""
    if after is Health.UNHEALTHY:
        tally = f"({judge.failures}/{judge.unhealthy_threshold} failed)"
    else:
        tally = f"({judge.passes}/{judge.healthy_threshold} passed)"
    return f"{result.text} {tally}"


async def sleep_until_next(started: float, interval: float) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
