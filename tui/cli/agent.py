"""``molt agent status|stop``: the local backend's agent, the one process that keeps
local instances and proxies running while no Molt is open."""

from __future__ import annotations

import argparse
import asyncio
import sys

import humanize

from backends.core.errors import ConfigError, Refused
from tui.cli.output import emit, say


async def agent_command(args: argparse.Namespace) -> int:
    from backends.config.fleet_config import default_state_dir
    from backends.local.driver import AgentClient

    client = AgentClient(default_state_dir())
    if args.action == "status":
        info = await client.call("status", start=False)
        if args.json:
            emit(info)
        else:
            print(
                f"agent pid {info['pid']}, up {humanize.naturaldelta(info['uptime_s'])}, "
                f"state {info['state_dir']}"
            )
            for f in info["fleets"]:
                print(
                    f"  {f['name']}: entry {f['entry']}, {f['generations']} generations, "
                    f"{f['instances']} instances"
                )
        return 0
    if args.read_only:
        raise Refused("read-only mode: agent stop is not allowed")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError("agent stop stops every local instance; confirm with --yes")
        question = "Stop the agent and every local instance? Type 'stop' to confirm: "
        answer = await asyncio.to_thread(input, question)
        if answer.strip() != "stop":
            say("not stopped")
            return 1
    from backends.core.journal import os_operator

    info = await client.call("stop", start=False, operator=os_operator())
    if args.json:
        emit(info)
    else:
        print(f"agent {info['pid']} stopped with {len(info['instances'])} instances")
    return 0
