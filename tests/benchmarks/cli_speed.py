"""How fast the headless CLI answers, the way a script or a prompt calls it: the real
``molt`` binary, a fresh process each time, on the demo fleets (their agent already up).

Run: .venv/bin/python tests/benchmarks/cli_speed.py [--runs 20]

Prints, per command, the median and p95 wall time of a whole run (start-up, imports,
the agent's answer, output) and its median CPU time, and what importing the ``status``
path costs: in all, and in Molt's own modules alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOLT = str(Path(sys.executable).with_name("molt"))
COMMANDS = (
    ("--version",),
    ("status", "web"),
    ("status", "web", "--json"),
    ("status",),  # the estate: both demo fleets, web and api
    ("history", "web"),
)
#: what ``molt status web`` imports (tests/unit/test_status_imports.py)
STATUS_PATH = ("tui.cli.main", "tui.cli.verbs", "tui.cli.reading", "backends.local.driver")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """The wall time of one run, and the CPU time it took (user + system): on a machine
    shared with other work the wall time includes waiting for a core, the CPU time not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: {done.stderr.strip()}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def _importtime(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Top-level cumulative import time of running ``code``, and the self time of
    Molt's own modules in it (ms)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    total = own = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        if not parts[2].startswith("  "):  # top level: its cumulative time
            total += int(parts[1])
        if parts[2].strip().split(".")[0] in ("backends", "tui"):
            own += int(parts[0].split(":")[1])
    return total / 1000, own / 1000


def imports_ms(env: dict[str, str]) -> tuple[float, float]:
    """What importing the ``status`` path costs beyond Python's own start-up (python -X
    importtime, best of 5): in all, and in Molt's own modules alone (their self time)."""
    startup = min(_importtime("pass", env)[0] for _ in range(5))
    total, own = min(_importtime(f"import {', '.join(STATUS_PATH)}", env) for _ in range(5))
    return total - startup, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="molt-speed-"))
    env = {**os.environ, "MOLT_STATE_DIR": str(state), "XDG_CONFIG_HOME": str(state / "cfg")}
    # An installed molt runs compiled bytecode; with PYTHONDONTWRITEBYTECODE set (as in
    # some shells and CI) every run would compile Molt's sources again and time that
    # instead. The first run below writes the bytecode here, outside the source tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(state / "pycache")
    try:
        timed([MOLT, "status", "web"], env)  # the demo and its agent come up once
        rows = []
        for command in COMMANDS:
            timed([MOLT, *command], env)  # its bytecode written, not timed
            runs = [timed([MOLT, *command], env) for _ in range(args.runs)]
            times = sorted(wall for wall, _ in runs)
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            cpu = statistics.median(cpu for _, cpu in runs)
            rows.append((" ".join(command), statistics.median(times), p95, cpu))
        load = os.getloadavg()[0]
        print(f"molt CLI, {args.runs} runs each, {os.cpu_count()} cores, load {load:.1f}")
        print("| command | median | p95 | CPU time, median |")
        print("|---|---|---|---|")
        for name, median, p95, cpu in rows:
            cells = (f"{seconds * 1000:.0f} ms" for seconds in (median, p95, cpu))
            print(f"| `molt {name}` | {' | '.join(cells)} |")
        total, own = imports_ms(env)
        print(f"Imports for `status`: {total:.0f} ms, of which Molt's own modules {own:.0f} ms")
    finally:
        subprocess.run([MOLT, "agent", "stop", "--yes"], env=env, capture_output=True)
        subprocess.run(["rm", "-rf", str(state)], check=False)


if __name__ == "__main__":
    main()
