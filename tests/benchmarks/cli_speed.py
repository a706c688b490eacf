"""How fast the headless CLI answers, the way a script or a prompt calls it: the real
``molt`` binary, a fresh process each time, on the demo fleet (its agent already up).

Run: .venv/bin/python tests/benchmarks/cli_speed.py [--runs 20]

Prints, per command, the median and p95 wall time of a whole run (start-up, imports,
the agent's answer, output) and the import time of Molt's own modules alone.
"""

from __future__ import annotations

import argparse
import os
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
    ("history", "web"),
)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: {done.stderr.strip()}")
    return elapsed


def imports_ms(env: dict[str, str]) -> float:
    """Molt's own imports for ``status`` (python -X importtime, cumulative, top level)."""
    code = "import tui.cli.main, tui.cli.verbs, backends.local.driver"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
    )
    total = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].rstrip() and not parts[2].startswith("  "):
            total += int(parts[1].strip() or 0) if parts[1].strip().isdigit() else 0
    return total / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="molt-speed-"))
    env = {**os.environ, "MOLT_STATE_DIR": str(state), "XDG_CONFIG_HOME": str(state / "cfg")}
    try:
        timed([MOLT, "status", "web"], env)  # the demo and its agent come up once
        rows = []
        for command in COMMANDS:
            times = sorted(timed([MOLT, *command], env) for _ in range(args.runs))
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            rows.append((" ".join(command), statistics.median(times), p95))
        load = os.getloadavg()[0]
        print(f"molt CLI, {args.runs} runs each, {os.cpu_count()} cores, load {load:.1f}")
        print("| command | median | p95 |")
        print("|---|---|---|")
        for name, median, p95 in rows:
            print(f"| `molt {name}` | {median * 1000:.0f} ms | {p95 * 1000:.0f} ms |")
        print(f"Molt's own imports for `status`: {imports_ms(env):.0f} ms")
    finally:
        subprocess.run([MOLT, "agent", "stop", "--yes"], env=env, capture_output=True)
        subprocess.run(["rm", "-rf", str(state)], check=False)


if __name__ == "__main__":
    main()
