"""Placeholder until the TUI lands: plain ``molt`` prints the status."""

from __future__ import annotations

import argparse
import asyncio


def run_app(args: argparse.Namespace) -> int:
    from tui import cli_commands

    args.command, args.json = "status", False
    return asyncio.run(cli_commands.run(args))
