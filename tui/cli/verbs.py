"""The headless subcommands. Each opens the same :class:`FleetSession` the TUI uses
(one backend, read-only or not, and its guarded :class:`Operations`), reads or acts,
then prints text (or stable JSON with ``--json``). One module per verb group:
``reading`` (status, history, verify), ``release`` (launch, shift, promote, rollback,
apply, retire), ``incident`` (logs, diff, report), ``rollout``, ``watch`` and ``agent``."""

from __future__ import annotations

import argparse

from backends.config.loading import load_config
from backends.engine.session import FleetSession
from tui.cli import incident, reading, release
from tui.cli.agent import agent_command
from tui.cli.init import init
from tui.cli.output import say
from tui.cli.rollout import rollout as rollout_command
from tui.cli.watch import watch


async def run(args: argparse.Namespace) -> int:
    if args.command == "agent":
        return await agent_command(args)
    if args.command == "init":
        return init(args)
    config = load_config(args.config)
    fleet = config.fleet(getattr(args, "fleet", None))
    session = FleetSession(fleet, config.state_dir, read_only=bool(args.read_only))
    try:
        await session.prepare(progress=say)
        return int(await COMMANDS[args.command](args, session))
    finally:
        await session.close()


def open_tui(args: argparse.Namespace) -> int:
    """``molt`` alone: the TUI (imported only here so headless commands start fast)."""
    from tui.app import run_app

    return run_app(args)


COMMANDS = {
    "logs": incident.logs,
    "diff": incident.diff,
    "report": incident.report,
    "watch": watch,
    "rollout": rollout_command,
    "status": reading.status,
    "launch": release.launch,
    "shift": release.shift,
    "promote": release.promote,
    "rollback": release.rollback,
    "retire": release.retire,
    "apply": release.apply,
    "history": reading.history,
    "verify": reading.verify,
}
