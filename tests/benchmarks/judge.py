"""The rollout judge under simulated traffic: how often it sends a good release back, and
how fast (and at what cost in failed requests) it stops a bad one.

Run: .venv/bin/python tests/benchmarks/judge.py [--rollouts 1000] [--quick] [--seed 1]
(``--quick``: 200 rollouts per cell). Targets: a good release falsely aborted in ≤ 1% of
rollouts in every cell; errors at 5× the background aborted with ≤ 10 extra failed
requests on average wherever that is outside the plan's margins; 30% errors aborted
≤ 2 s after the first step began (p95) at ≥ 100 req/s; +200 ms aborted before its
step could pass.

A Monte-Carlo over the real :func:`backends.core.rollout_judge.decide` with the default
:class:`backends.core.rollout.Plan`. Each rollout is simulated tick by tick (1 s): the total
traffic is Poisson at R req/s, the step's weight goes to the new generation and the rest
to the baseline; each request fails independently at its generation's error rate and is
slow (over ``slow_threshold`` of the baseline's true p99, fixed at the rollout's start)
independently at its generation's slow share. Poisson thinning draws the four kinds of
request (failed or not × slow or not) of each generation as independent Poisson counts,
which is the same distribution as Poisson requests each failing (Binomial) — exactly,
not an approximation. Every tick ``decide`` gets the cumulative counts (the new
generation's since its step began, the baseline's since the rollout began; at the 100%
step the baseline's counts freeze), every instance healthy. As the real driver does on
the local backend, the baseline's 5xx counts start with its last traffic window before
the rollout (:data:`WINDOW_BEFORE` seconds at the whole traffic). A rollout ends at the last
step's pass (completed), an abort, or inconclusive. Seeded: the same seed, the same
tables.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from statistics import NormalDist, median

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.core.evidence import Counts  # noqa: E402
from backends.core.rollout import Plan  # noqa: E402
from backends.core.rollout_judge import (  # noqa: E402
    Action,
    Facts,
    Sides,
    decide,
    hold_deadline,
    slow_threshold,
)

PLAN = Plan()
RATES = (10, 100, 1000)  # total req/s
GOOD_BACKGROUNDS = (0.0, 0.001, 0.005, 0.01, 0.02)
BAD_BACKGROUNDS = (0.001, 0.005, 0.01, 0.02)
LATENCY_BACKGROUND = 0.005
WORKERS = 2
CHUNK = 50  # rollouts per task handed to a worker
INSTANCES = 3
WINDOW_BEFORE = 30  # s: the local proxy's traffic window, journaled when a rollout starts
#: baseline latency: lognormal, median 8 ms, p99 20 ms
MEDIAN_MS = 8.0
P99_MS = 20.0
SIGMA = math.log(P99_MS / MEDIAN_MS) / NormalDist().inv_cdf(0.99)
THRESHOLD_MS = slow_threshold(P99_MS, PLAN)


@dataclass(frozen=True, slots=True)
class Cell:
    regression: str  # "good", "+1 point", "2×", "5×", "30%", "latency +20%", "latency +200 ms"
    rps: int
    background: float  # the baseline's error rate (and a good release's)
    error: float  # the new generation's error rate
    latency: str = "same"  # "same", "x1.2", "+200ms"

    @property
    def inside_margin(self) -> bool:
        """The regression is within the plan's margins: the judge need not abort it."""
        if self.latency == "+200ms":
            return False
        increase = self.error - self.background
        return increase <= PLAN.max_error_increase + 1e-12 and (
            self.error <= PLAN.max_error_rate + 1e-12 or self.error <= self.background
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    end: str  # "completed", "abort", "inconclusive"
    seconds: float  # from the first step's start to the end
    extra: float  # failed requests over what the baseline's rate gives on the same traffic
    step: int  # the step it ended at (1-based)


def slow_share(latency: str) -> float:
    """The share of a generation's requests slower than :data:`THRESHOLD_MS`."""
    scale, shift = {"same": (1.0, 0.0), "x1.2": (1.2, 0.0), "+200ms": (1.0, 200.0)}[latency]
    limit = (THRESHOLD_MS - shift) / scale  # slow when the baseline-like latency is above
    if limit <= 0:
        return 1.0
    return 1.0 - NormalDist(math.log(MEDIAN_MS), SIGMA).cdf(math.log(limit))


def poisson(rng: random.Random, mean: float) -> int:
    """An exact Poisson draw: multiplication below a mean of 10, else Hörmann's PTRS
    (transformed rejection with squeeze, as numpy's ``random_poisson_ptrs``)."""
    if mean <= 0:
        return 0
    if mean < 10:
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k
    slam, loglam = math.sqrt(mean), math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= (
            -mean + k * loglam - math.lgamma(k + 1)
        ):
            return k


def second(rng: random.Random, mean: float, error: float, slow: float) -> tuple[int, int, int]:
    """One second of a generation's traffic: (requests, failed, slow)."""
    if mean <= 0:
        return 0, 0, 0
    failed_slow = poisson(rng, mean * error * slow)
    failed_fast = poisson(rng, mean * error * (1 - slow))
    fine_slow = poisson(rng, mean * (1 - error) * slow)
    fine_fast = poisson(rng, mean * (1 - error) * (1 - slow))
    requests = failed_slow + failed_fast + fine_slow + fine_fast
    return requests, failed_slow + failed_fast, failed_slow + fine_slow


def rollout(cell: Cell, seed: int) -> Outcome:
    rng = random.Random(seed)
    base_slow, new_slow = slow_share("same"), slow_share(cell.latency)
    base_n = base_bad = base_late = 0
    before = second(rng, cell.rps * WINDOW_BEFORE, cell.background, base_slow)
    prior = Counts(before[0], before[1])  # the baseline's 5xx before the rollout
    now, extra = 0.0, 0.0
    for step, weight in enumerate(PLAN.steps, 1):
        began, share = now, weight / 100
        n = bad = late = 0
        while True:
            now += 1.0
            got, failed, slow = second(rng, cell.rps * share, cell.error, new_slow)
            n, bad, late = n + got, bad + failed, late + slow
            extra += failed - cell.background * got
            got, failed, slow = second(rng, cell.rps * (1 - share), cell.background, base_slow)
            base_n, base_bad, base_late = base_n + got, base_bad + failed, base_late + slow
            facts = Facts(
                generation="g2",
                baseline="g1",
                step=step,
                weight=weight,
                began=began,
                healthy=INSTANCES,
                instances=INSTANCES,
                errors=Sides(Counts(n, bad), Counts(base_n, base_bad) + prior),
                slow=Sides(Counts(n, late), Counts(base_n, base_late)),
                slow_ms=THRESHOLD_MS,
                rps=cell.rps * share,
            )
            action = decide(PLAN, facts, now).action
            if action is Action.PASS:
                break
            if action is not Action.WAIT:
                return Outcome(action.value, now, extra, step)
    return Outcome("completed", now, extra, len(PLAN.steps))


def run_chunk(task: tuple[int, Cell, int, int, int]) -> tuple[int, list[Outcome]]:
    index, cell, seed, start, count = task
    base = (seed * 1000 + index) * 1_000_000
    return index, [rollout(cell, base + i) for i in range(start, start + count)]


def cells() -> list[Cell]:
    found = [Cell("good", r, b, b) for b in GOOD_BACKGROUNDS for r in RATES]
    kinds = (
        ("+1 point", lambda b: b + 0.01),
        ("2×", lambda b: 2 * b),
        ("5×", lambda b: 5 * b),
        ("30%", lambda b: 0.30),
    )
    for label, error in kinds:
        found += [Cell(label, r, b, error(b)) for b in BAD_BACKGROUNDS for r in RATES]
    b = LATENCY_BACKGROUND
    found += [Cell("latency +20%", r, b, b, "x1.2") for r in RATES]
    found += [Cell("latency +200 ms", r, b, b, "+200ms") for r in RATES]
    return found


def quantile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def share(outcomes: list[Outcome], end: str) -> float:
    return sum(o.end == end for o in outcomes) / len(outcomes)


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def rate_text(value: float) -> str:
    return f"{value * 100:g}%"


def number(value: float, digits: int) -> str:
    """``value`` to ``digits`` decimals, never "-0"."""
    return f"{round(value, digits) + 0.0:.{digits}f}"


def secs(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} s" if value < 120 else f"{int(value) // 60}:{int(value) % 60:02d}"


def good_table(results: dict[Cell, list[Outcome]], rollouts: int) -> bool:
    print(
        f"\n**Good releases** (the new generation fails as often as the baseline), default "
        f"plan, {rollouts} rollouts per cell. Falsely aborted: target ≤ "
        f"{pct(PLAN.false_abort)}. Inconclusive: a step could not show its margins within "
        f"its {secs(hold_deadline(PLAN, 0.0))} deadline.\n"
    )
    print(
        "| background 5xx | req/s | falsely aborted | completed | inconclusive "
        "| median time to complete |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    ok = True
    for cell, outcomes in results.items():
        if cell.regression != "good":
            continue
        aborted = share(outcomes, "abort")
        ok &= aborted <= PLAN.false_abort
        done = [o.seconds for o in outcomes if o.end == "completed"]
        print(
            f"| {rate_text(cell.background)} | {cell.rps:,} | {pct(aborted)} "
            f"{'✓' if aborted <= PLAN.false_abort else '✗'} | {pct(share(outcomes, 'completed'))}"
            f" | {pct(share(outcomes, 'inconclusive'))} | {secs(median(done) if done else None)} |"
        )
    return ok


def bad_table(results: dict[Cell, list[Outcome]], rollouts: int) -> dict[str, list[bool]]:
    slow_base, slow_20 = slow_share("same"), slow_share("x1.2")
    print(
        f"\n**Bad releases**, default plan, {rollouts} rollouts per cell. Baseline latency "
        f"lognormal, median {MEDIAN_MS:g} ms, p99 {P99_MS:g} ms (σ = {SIGMA:.3f}): slow over "
        f"{THRESHOLD_MS:g} ms = {slow_base * 100:.2f}% of the baseline's requests, "
        f"{slow_20 * 100:.2f}% at +20%, all at +200 ms. Extra failed = the new generation's "
        "failed requests minus the background rate × its requests, until the rollout "
        "ended (aborted, inconclusive, or the last step passed). Times from the first "
        "step's start, over the rollouts aborted. *Inside margin*: the regression is "
        "within the plan's margins (5xx increase ≤ "
        f"{PLAN.max_error_increase * 100:g} point and ≤ {pct(PLAN.max_error_rate)} or the "
        f"baseline's; latency under {PLAN.max_p99_ratio:g}× p99): completing is no miss.\n"
    )
    print(
        "| regression | background | req/s | aborted | completed | inconclusive "
        "| extra failed mean / p95 | time to abort median / p95 | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    targets: dict[str, list[bool]] = {"5×": [], "30%": [], "+200 ms": []}
    for cell, outcomes in results.items():
        if cell.regression == "good":
            continue
        aborted = share(outcomes, "abort")
        completed = share(outcomes, "completed")
        extras = [o.extra for o in outcomes]
        mean_extra = sum(extras) / len(extras)
        times = [o.seconds for o in outcomes if o.end == "abort"]
        t50 = median(times) if times else None
        t95 = quantile(times, 0.95) if times else None
        mark = ""
        if cell.inside_margin:
            mark = "inside margin"
        elif cell.regression == "5×":
            stopped, cheap = aborted >= 0.99, mean_extra <= 10
            targets["5×"].append(stopped and cheap)
            mark = f"≥ 99% aborted {'✓' if stopped else '✗'}, ≤ 10 extra {'✓' if cheap else '✗'}"
        elif cell.regression == "30%" and cell.rps >= 100:
            hit = aborted >= 0.95 and t95 is not None and t95 <= 2
            targets["30%"].append(hit)
            mark = f"p95 ≤ 2 s {'✓' if hit else '✗'}"
        elif cell.regression == "latency +200 ms":
            first = [o for o in outcomes if o.end == "abort" and o.step == 1]
            hit = len(first) == len(outcomes) and max(o.seconds for o in first) < PLAN.bake
            targets["+200 ms"].append(hit)
            mark = f"all before {secs(PLAN.bake)} {'✓' if hit else '✗'}"
        missed = pct(completed) + ("" if cell.inside_margin or not completed else " miss")
        name = cell.regression
        if cell.latency == "same":
            name += f" ({rate_text(cell.error)})"
        print(
            f"| {name} | {rate_text(cell.background)} | {cell.rps:,} | "
            f"{pct(aborted)} | {missed} | {pct(share(outcomes, 'inconclusive'))} | "
            f"{number(mean_extra, 1)} / {number(quantile(extras, 0.95), 0)} | "
            f"{secs(t50)} / {secs(t95)} | "
            f"{mark} |"
        )
    return targets


def machine() -> str:
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def main(rollouts: int, seed: int) -> None:
    began = time.perf_counter()
    grid = cells()
    tasks = [
        (index, cell, seed, start, min(CHUNK, rollouts - start))
        for index, cell in enumerate(grid)
        for start in range(0, rollouts, CHUNK)
    ]
    gathered: dict[int, list[Outcome]] = {index: [] for index in range(len(grid))}
    with Pool(WORKERS) as pool:
        for index, outcomes in pool.imap_unordered(run_chunk, tasks):
            gathered[index] += outcomes
    results = {grid[index]: gathered[index] for index in range(len(grid))}
    elapsed = time.perf_counter() - began
    good_ok = good_table(results, rollouts)
    targets = bad_table(results, rollouts)
    print()
    holds = [
        ("good releases falsely aborted ≤ 1% in every cell", [good_ok]),
        ("5× background aborted with ≤ 10 extra failed (mean) outside the margin", targets["5×"]),
        ("30% errors aborted ≤ 2 s (p95) at ≥ 100 req/s", targets["30%"]),
        ("+200 ms aborted before its step could pass", targets["+200 ms"]),
    ]
    print(
        "Targets: "
        + "; ".join(
            f"{label} {'✓' if all(hits) else f'✗ ({sum(hits)}/{len(hits)} cells)'}"
            for label, hits in holds
        )
    )
    print(
        f"\n{len(grid)} cells × {rollouts} rollouts, {WORKERS} workers on {machine()}; "
        f"{elapsed:.0f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 rollouts per cell")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    main(200 if options.quick else options.rollouts, options.seed)
