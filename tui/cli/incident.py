"""The incident responder's commands: ``molt logs`` (what an instance printed),
``molt diff`` (what changed between two generations), ``molt report`` (what happened,
as Markdown)."""

from __future__ import annotations

import argparse
import json

from backends.core.diff import as_launched
from backends.core.diff import diff as changes
from backends.core.errors import ConfigError, NotFound
from backends.core.model import GENERATION_ID
from backends.core.report import parse_since
from backends.core.report import report as render_report
from backends.core.text import printable
from backends.engine.session import FleetSession


async def instance_of(session: FleetSession, name: str) -> str:
    """``name`` itself, or the first instance when it names a generation."""
    if not GENERATION_ID.match(name):
        return name
    found = (await session.read()).generation(name)
    if found is None or not found.instances:
        raise NotFound(f"fleet {session.name} has no generation {name} with instances")
    return found.instances[0].id


async def logs(args: argparse.Namespace, session: FleetSession) -> int:
    instance = await instance_of(session, args.instance)
    lines = await session.backend.logs(instance, args.lines)
    if args.json and not args.follow:
        print(json.dumps({"fleet": session.name, "instance": instance, "lines": lines}, indent=2))
        return 0
    for line in lines:
        print(_log_line(args, instance, line))
    if args.follow:
        async for line in session.backend.follow(instance):
            print(_log_line(args, instance, line), flush=True)
    return 0


def _log_line(args: argparse.Namespace, instance: str, line: str) -> str:
    """A line as printed: escaped for a terminal, or one JSON object (``-f --json``)."""
    if args.json:
        return json.dumps({"instance": instance, "line": line})
    return printable(line)


async def diff(args: argparse.Namespace, session: FleetSession) -> int:
    snapshot = await session.read()
    found = []
    retired = []
    for name in (args.a, args.b):
        generation = snapshot.generation(name)
        if generation is not None:
            found.append((generation, await session.backend.frozen(name)))
            continue
        # retired: what the journal kept at launch (its files went with it)
        generation = as_launched(await session.history(), name)
        if generation is None:
            known = ", ".join(g.id for g in snapshot.generations) or "none"
            raise NotFound(
                f"fleet {session.name} has no generation {name}, running or in its journal "
                f"(running: {known})"
            )
        retired.append(name)
        found.append((generation, {}))
    (a, frozen_a), (b, frozen_b) = found
    differences = changes(a, b, frozen_a, frozen_b)
    if args.json:
        print(
            json.dumps(
                {
                    "fleet": session.name,
                    "a": a.id,
                    "b": b.id,
                    "retired": retired,
                    "differences": [d.to_json() for d in differences],
                },
                indent=2,
            )
        )
        return 0
    print(f"{a.id} ({a.version}) → {b.id} ({b.version})")
    if retired:
        print(
            f"{' and '.join(retired)} retired: compared as journaled at launch "
            "(the digest stands for its files)"
        )
    for difference in differences:
        print(printable(difference.text()))
    if not differences:
        print("no difference")
    return 0


async def report(args: argparse.Namespace, session: FleetSession) -> int:
    try:
        since = parse_since(args.since)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    snapshot = await session.read()
    records = await session.history()
    chain = await session.backend.journal.check(session.name)
    print(render_report(snapshot, records, chain, since), end="")
    return 0
