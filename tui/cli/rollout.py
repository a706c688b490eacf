"""``molt rollout FLEET GEN``: walk a generation through its weight steps, judged against
its baseline — and ``--pause`` / ``--resume`` / ``--abort`` from anywhere."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from backends.core.errors import ConfigError
from backends.core.rollout import Plan
from backends.engine import rollout_driver
from backends.engine.notify import telling
from backends.engine.session import FleetSession


def plan_for(args: argparse.Namespace, session: FleetSession) -> Plan:
    """The fleet's plan (molt.toml's ``[fleets.NAME.rollout]``), flags over it."""
    plan: Plan = getattr(session.fleet, "rollout", None) or Plan()
    if args.steps:
        try:
            steps = tuple(int(s) for s in args.steps.split(","))
        except ValueError:
            raise ConfigError(f"--steps looks like 10,50,100, not {args.steps!r}") from None
        plan = replace(plan, steps=steps)
    if args.bake is not None:
        plan = replace(plan, bake=args.bake)
    return plan


def _say(line: str) -> None:
    print(line, flush=True)


async def rollout(args: argparse.Namespace, session: FleetSession) -> int:
    # it sees the rollout end: it tells the team (a webhook that fails is said on stderr)
    async with telling(session, lambda line: print(f"molt: {line}", file=sys.stderr)):
        return await _rollout(args, session)


async def _rollout(args: argparse.Namespace, session: FleetSession) -> int:
    controls = [name for name in ("pause", "resume", "abort") if getattr(args, name)]
    if len(controls) > 1 or (controls and args.generation):
        raise ConfigError("give a generation to roll out, or one of --pause, --resume, --abort")
    if controls == ["pause"]:
        paused = await rollout_driver.pause(session, f"paused by {await session.ops.operator()}")
        print(f"rollout of {paused.generation} paused at step {paused.step}")
        return 0
    if controls == ["abort"]:
        operator = await session.ops.operator()
        aborted = await rollout_driver.abort(session, f"aborted by {operator}")
        print(f"rollout of {aborted.generation} aborted: all traffic back on {aborted.baseline}")
        return 0
    if controls == ["resume"]:
        resumed = await rollout_driver.resume(session, _say)
        if resumed.ended:  # driven to its end here; else its own driver was woken (said so)
            print(f"{resumed.generation} at 100%")
        return 0
    if not args.generation:
        raise ConfigError("which generation? molt rollout FLEET GEN (or --pause/--resume/--abort)")
    done = await rollout_driver.start(session, args.generation, plan_for(args, session), _say)
    print(f"{done.generation} at 100%")
    return 0
