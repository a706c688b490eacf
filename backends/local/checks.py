"""HTTP health checks of local instances, judged by thresholds over consecutive results."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from backends.model import Health


@dataclass(slots=True)
class HealthJudge:
    """``pending`` → ``healthy`` after N passes in a row, → ``unhealthy`` after M failures
    in a row; either way back once the other threshold is met."""

    healthy_threshold: int
    unhealthy_threshold: int
    health: Health = Health.PENDING
    passes: int = 0
    failures: int = 0

    def observe(self, passed: bool) -> Health | None:
        """Record one check; return the new health if it changed."""
        if passed:
            self.passes, self.failures = self.passes + 1, 0
            if self.health is not Health.HEALTHY and self.passes >= self.healthy_threshold:
                self.health = Health.HEALTHY
                return self.health
        else:
            self.failures, self.passes = self.failures + 1, 0
            if self.health is not Health.UNHEALTHY and self.failures >= self.unhealthy_threshold:
                self.health = Health.UNHEALTHY
                return self.health
        return None

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
