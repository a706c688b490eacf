"""The headless subcommands. Each fleet verb opens the same :class:`FleetSession` the
TUI uses (one backend, read-only or not, and its guarded :class:`Operations`), reads or
acts, then prints text (or stable JSON with ``--json``). The estate verbs (``changes``,
``notify``, and ``status``/``report`` with no fleet when molt.toml names several) take
the whole configuration instead. One module per verb group: ``reading`` (status, history,
verify), ``release`` (launch, shift, promote, rollback, apply, retire), ``incident``
(logs, diff, report), ``rollout``, ``watch``, ``agent``, ``estate``, ``changes`` and
``notify``.

A verb is named by ``module:function`` and imported only when it runs, so ``molt
status`` does not pay for importing ``rollout`` or ``watch``.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Awaitable, Callable

from backends.config.fleet_config import MoltConfig
from backends.config.loading import load_config
from tui.cli.output import say

#: the verbs that act on one fleet: ``(args, session) → exit code``
COMMANDS = {
    "logs": "tui.cli.incident:logs",
    "diff": "tui.cli.incident:diff",
    "report": "tui.cli.incident:report",
    "watch": "tui.cli.watch:watch",
    "rollout": "tui.cli.rollout:rollout",
    "status": "tui.cli.reading:status",
    "launch": "tui.cli.release:launch",
    "shift": "tui.cli.release:shift",
    "promote": "tui.cli.release:promote",
    "rollback": "tui.cli.release:rollback",
    "retire": "tui.cli.release:retire",
    "apply": "tui.cli.release:apply",
    "history": "tui.cli.reading:history",
    "verify": "tui.cli.reading:verify",
}

#: the verbs that look across every fleet: ``(args, config) → exit code``
ESTATE_COMMANDS = {
    "status": "tui.cli.estate:status",
    "report": "tui.cli.estate:report",
    "changes": "tui.cli.changes:changes",
    "notify": "tui.cli.notify:notify",
}


def verb(path: str) -> Callable[..., Awaitable[int]]:
    """The function ``module:name`` names, imported now."""
    module, name = path.split(":")
    found: Callable[..., Awaitable[int]] = getattr(importlib.import_module(module), name)
    return found


def across_estate(args: argparse.Namespace, config: MoltConfig) -> bool:
    """Whether ``args`` asks about every fleet: ``changes`` and ``notify`` always;
    ``status`` and ``report`` when no fleet is named and molt.toml names several."""
    if args.command in ("changes", "notify"):
        return True
    named = getattr(args, "fleet", None)
    return args.command in ESTATE_COMMANDS and named is None and len(config.fleets) > 1


async def run(args: argparse.Namespace) -> int:
    if args.command == "agent":
        from tui.cli.agent import agent_command

        return await agent_command(args)
    if args.command == "init":
        from tui.cli.init import init

        return init(args)
    config = load_config(args.config)
    if across_estate(args, config):
        return int(await verb(ESTATE_COMMANDS[args.command])(args, config))
    from backends.engine.session import FleetSession

    fleet = config.fleet(getattr(args, "fleet", None))
    session = FleetSession(fleet, config.state_dir, read_only=bool(args.read_only))
    try:
        await session.prepare(progress=say)
        return int(await verb(COMMANDS[args.command])(args, session))
    finally:
        await session.close()


def open_tui(args: argparse.Namespace) -> int:
    """``molt`` alone: the TUI (imported only here so headless commands start fast)."""
    from tui.app import run_app

    return run_app(args)
