"""``molt status`` imports only what a look needs: no Textual, no cloud or SSH library,
none of the code that launches, retires, drives or judges a rollout or follows events.
What a status does not import it does not pay for at every start (issue 21: status in
0.15 s), so the test names modules, not milliseconds — timings belong to
tests/benchmarks/cli_speed.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The path ``molt status [FLEET]`` takes on the demo fleets up to the verb itself:
# parse, load the configuration, open each session it reads (its driver loaded by name),
# find the verb — one fleet's, or the estate's when no fleet is named.
STATUS_PATH = """
import sys
from tui.cli import main, verbs
from backends.config.loading import load_config
from backends.engine.session import FleetSession
args = main.build_parser().parse_args(sys.argv[1:])
config = load_config(args.config)
estate = verbs.across_estate(args, config)
named = list(config.fleets.values()) if estate else [config.fleet(args.fleet)]
sessions = [FleetSession(fleet, config.state_dir, read_only=False) for fleet in named]
verbs.verb((verbs.ESTATE_COMMANDS if estate else verbs.COMMANDS)[args.command])
print("\\n".join(sorted(sys.modules)))
"""

#: what a look at a local fleet must never import (module name or package prefix)
NEVER = (
    "textual",
    "rich",
    "boto3",
    "botocore",
    "asyncssh",
    "tui.app",
    "tui.screens",
    "tui.cli.release",
    "tui.cli.rollout",
    "tui.cli.watch",
    "backends.aws",
    "backends.ssh",
    "backends.engine.rollout_driver",
    "backends.engine.rollout_steps",
    "backends.core.rollout_judge",
    "backends.core.events",  # what following a fleet yields; a look follows nothing
    "backends.core.event_json",
    "backends.core.report",  # `molt report`'s
    "backends.local.agent",
    "backends.local.launching",
    "backends.local.processes",
)


@pytest.mark.parametrize("argv", [["status", "web"], ["status"]], ids=["fleet", "estate"])
def test_status_imports_nothing_it_does_not_run(tmp_path: Path, argv: list[str]) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MOLT_STATE_DIR": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no molt.toml: the demo
    }
    done = subprocess.run(
        [sys.executable, "-c", STATUS_PATH, *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = done.stdout.split()
    assert "backends.local.driver" in loaded  # the path was taken: the driver is there
    heavy = [m for m in loaded if any(m == n or m.startswith(f"{n}.") for n in NEVER)]
    assert heavy == []
