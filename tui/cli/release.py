"""The release verbs: ``molt launch``, ``shift``, ``promote``, ``rollback``, ``apply`` and
``retire``, each through the session's guarded :class:`Operations`."""

from __future__ import annotations

import argparse
import re

from backends.core.errors import ConfigError, OperationFailed, shown
from backends.core.model import EXTERNAL_GENERATION, GenerationSpec
from backends.engine import rollout_driver
from backends.engine.session import FleetSession
from tui.cli.output import emit, say

WEIGHT = re.compile(r"[+-]?[0-9]{1,6}")  # ASCII digits only: '²'.isdigit() is true


def parse_weights(pairs: list[str]) -> dict[str, int]:
    """``["g1=90", "g2=10"]`` → ``{"g1": 90, "g2": 10}``; a weight outside 0–100 is a
    usage error (exit 2), like a pair that is not one."""
    weights: dict[str, int] = {}
    for pair in pairs:
        generation, sep, value = pair.partition("=")
        if not sep or not generation or not WEIGHT.fullmatch(value.strip()):
            raise ConfigError(f"weights look like g1=90 g2=10, not {shown(repr(pair))}")
        if not 0 <= int(value) <= 100:
            raise ConfigError(f"a weight is a percentage 0–100, not {shown(pair)}")
        if generation in weights:
            raise ConfigError(f"{shown(repr(generation))} is given twice")
        weights[generation] = int(value)
    return weights


async def launch(args: argparse.Namespace, session: FleetSession) -> int:
    spec = GenerationSpec(
        version=args.version, count=args.count, note=args.note, artifact=args.artifact
    )
    generation = await session.ops.launch(spec)
    if args.wait:
        say(f"{generation.id} launched ({generation.version}); waiting until it is healthy…")
        try:
            await session.wait_settled(generation.id, timeout=args.timeout)
        except OperationFailed:
            emit({"generation": generation.id}) if args.json else print(generation.id)
            raise
    emit({"generation": generation.id}) if args.json else print(generation.id)
    return 0


async def shift(args: argparse.Namespace, session: FleetSession) -> int:
    weights = await session.ops.shift(parse_weights(args.weights), force=args.force)
    return _weights_done(args, weights)


async def promote(args: argparse.Namespace, session: FleetSession) -> int:
    weights = await session.ops.promote(args.generation, force=args.force)
    return _weights_done(args, weights)


async def rollback(args: argparse.Namespace, session: FleetSession) -> int:
    """During a rollout, a rollback aborts it: all traffic to its baseline, in one step."""
    running = await rollout_driver.current(session)
    if running is not None and not running.ended:
        operator = await session.ops.operator()
        await rollout_driver.abort(session, f"rolled back by {operator}")
        return _weights_done(args, (await session.read()).weights)
    return _weights_done(args, await session.ops.rollback())


def _weights_done(args: argparse.Namespace, weights: dict[str, int]) -> int:
    if args.json:
        emit({"weights": weights})
    else:
        print(" ".join(f"{g}={w}" for g, w in weights.items()))
    return 0


async def apply(args: argparse.Namespace, session: FleetSession) -> int:
    """Make a changed molt.toml (or what Molt recorded) take effect: locked, journaled,
    refused where it would drop traffic; nothing done when nothing differs."""
    done = await session.ops.apply()
    if args.json:
        emit({"fleet": session.name, "applied": list(done)})
    else:
        print("\n".join(done) or f"{session.name} runs as molt.toml says: nothing to apply")
    return 0


async def retire(args: argparse.Namespace, session: FleetSession) -> int:
    if args.generation == EXTERNAL_GENERATION:  # not Molt's: only the load balancer changes
        say(f"retiring {args.generation}: removing it from the load balancer only…")
    else:
        say(
            f"retiring {args.generation}: draining in-flight requests, then stopping its instances…"
        )
    await session.ops.retire(args.generation)
    if args.json:
        emit({"generation": args.generation, "retired": True})
    elif args.generation == EXTERNAL_GENERATION:
        print(f"{args.generation} removed from the load balancer (its instances still run)")
    else:
        print(f"{args.generation} retired")
    return 0
