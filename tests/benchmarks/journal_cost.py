"""What a long journal costs `molt status`: time and peak memory at 1k, 10k and 50k
records, on the local backend (the real binary, the real agent).

Run: .venv/bin/python tests/benchmarks/journal_cost.py [--records 1000,10000,50000]
     [--code /path/to/another/checkout]   (the same table for another tree: before/after)

Each size gets a fresh state dir whose journal is filled straight into the agent's
store (finished shifts, sealed and chained) for a fleet with no generation, then
``molt status FLEET --json`` is run a few times: the median wall time and the largest
peak RSS of the status process are reported. The first status after the agent starts
also builds the agent's own view of the journal (reported apart: once per agent).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.local.processes import free_port  # noqa: E402
from tests.support.journal_fill import prefill  # noqa: E402
from tests.support.local import stop_everything  # noqa: E402

RUNS = 5
CONFIG = """[fleets.web]
backend = "local"
artifact = "{artifact}"
start = "{{python}} app.py --port {{port}}"
listen = "127.0.0.1:{port}"
count = 1
"""


def status_once(code: Path, state_dir: Path, config: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one ``molt status web --json`` run in a child that
    measures only itself."""
    probe = (
        "import resource, subprocess, sys, time; t = time.monotonic(); "
        "done = subprocess.run(sys.argv[1:], capture_output=True); "
        "assert done.returncode == 0, done.stderr; "
        "print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    molt = [sys.executable, "-c", "from tui.cli.main import main; main()"]
    env = {**os.environ, "MOLT_STATE_DIR": str(state_dir), "PYTHONPATH": str(code)}
    argv = [*molt, "--config", str(config), "status", "web", "--json"]
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, cwd=code
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip().splitlines()[-1])
    seconds, rss_kb = out.stdout.split()
    return float(seconds), int(rss_kb) / 1024


def measure(code: Path, records: int) -> tuple[float, float, float]:
    state_dir = Path(tempfile.mkdtemp(prefix="molt-"))
    try:
        config = state_dir / "molt.toml"
        artifact = code / "backends" / "local" / "demo_app"
        config.write_text(CONFIG.format(artifact=artifact, port=free_port()))
        prefill(state_dir, "web", records)
        first, _ = status_once(code, state_dir, config)  # starts the agent, builds its view
        runs = [status_once(code, state_dir, config) for _ in range(RUNS)]
        return first, statistics.median(t for t, _ in runs), max(m for _, m in runs)
    finally:
        stop_everything(state_dir)
        subprocess.run(["rm", "-rf", str(state_dir)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="1000,10000,50000")
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args()
    print(f"molt status web --json, code at {args.code}, median of {RUNS} runs")
    print(f"{'records':>8}  {'first (s)':>9}  {'status (s)':>10}  {'peak RSS (MB)':>13}")
    for records in (int(n) for n in args.records.split(",")):
        first, seconds, rss = measure(args.code.resolve(), records)
        print(f"{records:>8}  {first:>9.2f}  {seconds:>10.2f}  {rss:>13.0f}", flush=True)


if __name__ == "__main__":
    main()
