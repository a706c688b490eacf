"""``molt changes``: what changed across every fleet, merged by time — each fleet's
journal read in parallel, each with its own deadline. A look: it reads journals and
never writes (no demo is prepared, nothing is registered or launched). A fleet that
cannot be read is named on stderr with why, the others are still listed, and the exit
code is 1."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any

from backends.config.fleet_config import FleetConfig, MoltConfig
from backends.core.changes import PER_FLEET, Change, Changes, merge
from backends.core.clock import iso, utcnow
from backends.core.errors import BackendError, ConfigError
from backends.core.journal import JournalRecord
from backends.core.report import parse_since
from backends.core.text import printable
from tui.cli.output import emit

#: how long one fleet's journal may take to read before it is named as unreadable
READ_DEADLINE = 20.0


async def changes(args: argparse.Namespace, config: MoltConfig) -> int:
    """Print the changes of the fleets asked for since ``--since``, oldest first."""
    try:
        window = parse_since(args.since)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    names = chosen(args.fleets, config)
    now = utcnow()
    since: datetime | None = now - window  # parse_since keeps it within the calendar
    fleets = [config.fleets[name] for name in names]
    results = await asyncio.gather(
        *(read(fleet, config, read_only=bool(args.read_only)) for fleet in fleets)
    )
    journals = {f.name: r for f, r in zip(fleets, results, strict=True) if not isinstance(r, str)}
    unread = {f.name: r for f, r in zip(fleets, results, strict=True) if isinstance(r, str)}
    found = merge(journals, since, names)
    for name, why in unread.items():
        print(f"molt: {printable(name)} could not be read: {printable(why)}", file=sys.stderr)
    if args.json:
        emit(to_json(found, since, unread))
    else:
        show(found, [name for name in names if name in journals], since)
    return 1 if unread else 0


def chosen(fleets: str | None, config: MoltConfig) -> list[str]:
    """The fleets ``--fleet A,B`` names (all of molt.toml's when not given); an unknown
    one is a usage error naming the known fleets."""
    if fleets is None:
        return list(config.fleets)
    names = list(dict.fromkeys(n.strip() for n in fleets.split(",") if n.strip()))
    unknown = [n for n in names if n not in config.fleets]
    if unknown or not names:
        known = ", ".join(config.fleets) or "none"
        asked = f"unknown fleet {unknown[0]!r}" if unknown else "--fleet names no fleet"
        raise ConfigError(f"{asked}; known fleets: {known}")
    return names


async def read(
    fleet: FleetConfig, config: MoltConfig, *, read_only: bool
) -> list[JournalRecord] | str:
    """``fleet``'s journal, folded (the read path ``molt history`` takes), or why it
    could not be read within :data:`READ_DEADLINE`."""
    from backends.engine.session import FleetSession  # the engine, once a verb runs

    try:
        session = FleetSession(fleet, config.state_dir, read_only=read_only)
    except BackendError as error:
        return error.message
    try:
        return await asyncio.wait_for(session.history(), READ_DEADLINE)
    except TimeoutError:
        return f"its journal did not answer within {READ_DEADLINE:.0f} s"
    except BackendError as error:
        return error.message
    except Exception as error:  # a driver's surprise: named with the fleet, never a traceback
        return f"{type(error).__name__}: {error}"
    finally:
        await session.close()


def line(change: Change) -> str:
    """``2026-12-07T10:01:02Z  web  alice  shift g1=90 g2=10  — why``."""
    text = f"{iso(change.at)}  {change.fleet}  {change.who}  {change.what}"
    if change.why:
        text += f"  — {change.why}"
    return printable(text)


def show(found: Changes, names: list[str], since: datetime | None) -> None:
    for change in found.changes:
        print(line(change))
    window = f"since {iso(since)}" if since is not None else "ever"
    if not found.changes and names:  # the fleets read (one not read is named on stderr)
        print(f"no changes {window} on {', '.join(printable(n) for n in names)}")
    if found.left_off:
        print(f"(only the newest {len(found.changes)}: {found.left_off} older left off)")
    for fleet in found.cut_fleets:
        print(f"(of {printable(fleet)} only the newest {PER_FLEET} records were read)")


def to_json(found: Changes, since: datetime | None, unread: dict[str, str]) -> dict[str, Any]:
    """The stable shape of ``molt changes --json`` (docs/cli.md)."""
    return {
        "since": iso(since, precise=True),
        "changes": [change.to_json() for change in found.changes],
        "left_off": found.left_off,
        "cut_fleets": list(found.cut_fleets),
        "unreadable": [{"fleet": name, "problem": why} for name, why in unread.items()],
    }
