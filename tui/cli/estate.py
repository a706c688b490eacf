"""``molt status`` and ``molt report`` with no fleet, when molt.toml names several: the
estate, every fleet read at once, each within its own deadline (a dead fleet is shown
unreachable, never waited for). See docs/estate.md.

Exit status: 0 when every fleet was read, 1 when one could not be (its row says why),
so that a script's ``molt status || page-someone`` notices a fleet gone dark.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from backends.config.fleet_config import MoltConfig
from backends.core.errors import ConfigError
from backends.core.estate import FleetSummary
from backends.core.model import FleetSnapshot, Generation
from backends.core.text import printable
from backends.core.traffic import combine, ms_text, percent_text, rate_text
from backends.engine.estate import DEADLINE, Estate, problem
from tui.cli.output import emit

HEADINGS = ("FLEET", "BACKEND", "GENERATIONS", "HEALTHY", "REQ/S", "5XX", "P99", "ROLLOUT")


async def status(args: argparse.Namespace, config: MoltConfig) -> int:
    async with Estate(
        list(config.fleets.values()), config.state_dir, read_only=bool(args.read_only)
    ) as estate:
        summaries = await estate.refresh()
    if args.json:
        emit([s.to_json() for s in summaries])
    else:
        print(format_estate(summaries))
    return 0 if all(s.reachable for s in summaries) else 1


def format_estate(summaries: list[FleetSummary]) -> str:
    """The estate table, one row per fleet, then a ``! fleet: …`` line per thing that
    needs attention."""
    rows = [HEADINGS, *(_row(s) for s in summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for summary in summaries:
        lines += [f"! {summary.name}: {words}" for words in summary.attention]
    return "\n".join(lines)


def _row(summary: FleetSummary) -> tuple[str, ...]:
    snapshot = summary.snapshot
    if snapshot is None:  # never read: the attention line says why
        return (summary.name, summary.backend, "unreachable", "—", "—", "—", "—", "—")
    traffic = combine([g.traffic for g in snapshot.generations], snapshot.taken_at)
    healthy = sum(g.healthy_count() for g in snapshot.generations)
    total = sum(len(g.instances) for g in snapshot.generations)
    latency = "—"
    if traffic is not None and traffic.p99_ms is not None:
        latency = ms_text(traffic.p99_ms)
    elif traffic is not None and traffic.avg_ms is not None:
        latency = f"avg {ms_text(traffic.avg_ms)}"
    return (
        summary.name,
        summary.backend,
        generations_text(snapshot) + ("" if summary.reachable else " (stale)"),
        f"{healthy}/{total}",
        rate_text(traffic.rps if traffic else None).removesuffix(" req/s"),
        percent_text(traffic.error_rate if traffic else None),
        latency,
        rollout_text(summary),
    )


def generations_text(snapshot: FleetSnapshot) -> str:
    """``g7 v42 90% · g8 v43 10%``: those carrying traffic first, the most first."""

    def key(g: Generation) -> tuple[int, int]:
        return (-g.weight, -g.number)

    shown = [
        f"{printable(g.id)} {printable(g.version)} {g.weight}%"
        for g in sorted(snapshot.generations, key=key)
    ]
    return " · ".join(shown) or "none"


def rollout_text(summary: FleetSummary) -> str:
    """``running 2/4 25%``; an ended one without its weight (``aborted 2/4``); ``—``: none."""
    rollout = summary.rollout
    if rollout is None:
        return "—"
    steps = f"{rollout.state.value} {rollout.step}/{len(rollout.plan.steps)}"
    return steps if rollout.ended else f"{steps} {rollout.weight}%"


async def report(args: argparse.Namespace, config: MoltConfig) -> int:
    """Every fleet's report (``molt report FLEET``) as one Markdown document."""
    # the report's module (and the events it words) is imported by the report alone:
    # `molt status` across the estate never pays for it
    from backends.core.report import parse_since

    try:
        since = parse_since(args.since)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    async with Estate(
        list(config.fleets.values()), config.state_dir, read_only=bool(args.read_only)
    ) as estate:
        summaries = await estate.refresh()
        sections = await asyncio.gather(*(_section(estate, s, since) for s in summaries))
    print("\n".join(sections), end="")
    return 0 if all(s.reachable for s in summaries) else 1


async def _section(estate: Estate, summary: FleetSummary, since: timedelta) -> str:
    from backends.core.report import report as fleet_report

    session = estate.session(summary.name)
    if not summary.reachable or session is None or summary.snapshot is None:
        return _unreachable(summary.name, summary.problem)
    try:
        async with asyncio.timeout(DEADLINE):
            records = await session.history()
            chain = await session.backend.journal.check(session.name)
    except TimeoutError:
        return _unreachable(summary.name, f"no answer in {DEADLINE:g} s")
    except Exception as error:  # shown as the fleet's section, never raised
        return _unreachable(summary.name, problem(error))
    return fleet_report(summary.snapshot, records, chain, since)


def _unreachable(fleet: str, why: str) -> str:
    return f"# {fleet}: unreachable\n\nMolt could not read {fleet}: {printable(why)}\n"
