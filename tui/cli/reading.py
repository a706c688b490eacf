"""The reading verbs: ``molt status``, ``molt history`` and ``molt verify``. They look
and never write (a difference is reported with the command that applies it)."""

from __future__ import annotations

import argparse

import humanize

from backends.core.baseline import worse_than_baseline
from backends.core.errors import OperationFailed
from backends.core.interrupted import again
from backends.core.model import FleetSnapshot, iso, utcnow
from backends.core.rollout import RolloutState, judge_now
from backends.core.text import printable
from backends.core.traffic import ms_text, percent_text, rate_text
from backends.engine.session import FleetSession
from backends.engine.status import read_status, status_json, target
from tui.cli.output import emit


async def status(args: argparse.Namespace, session: FleetSession) -> int:
    read = await read_status(session)
    now = utcnow()
    snapshot, seen = read.snapshot, read.seen
    holder, cut, rolling = seen.lock, seen.interrupted, seen.rollout
    if args.json:
        emit(status_json(read, now))
        return 0
    print(format_status(snapshot))
    if holder is not None:
        print(f"! locked by {holder.describe()}")
    if rolling is not None and not rolling.ended:
        print(
            f"! rollout of {rolling.generation} against {rolling.baseline}: {rolling.state.value}"
            f", step {rolling.step}/{len(rolling.plan.steps)} ({rolling.weight}%)"
            + (f" — {rolling.reason}" if rolling.reason else "")
            + (
                f" — driven by {printable(seen.driven_by)}"
                if seen.driven_by and rolling.state is RolloutState.RUNNING
                else ""
            )
        )
        judged = judge_now(rolling, snapshot, now)
        if judged is not None:
            print(f"! evidence: {judged.text()}")
    for record in cut:
        print(
            f"! interrupted: {record.operator} {record.action} {target(record)} at "
            f"{iso(record.at)} never finished (Molt was stopped mid-way); "
            f"`{again(record, session.name)}` finishes it"
        )
    return 0


def format_status(snapshot: FleetSnapshot) -> str:
    now = utcnow()
    lines = [f"{snapshot.fleet} · {snapshot.backend} · entry {snapshot.entry or 'none'}"]
    if not snapshot.generations:
        lines.append("no generations yet: molt launch FLEET --version V")
        lines += [f"! {difference}" for difference in snapshot.differences]
        return "\n".join(lines)
    rows = [
        (
            "GEN",
            "VERSION",
            "STATE",
            "WEIGHT",
            "HEALTHY",
            "REQ/S",
            "5XX",
            "P99",
            "LAUNCHED",
            "BY",
            "NOTE",
        )
    ]
    for g in snapshot.generations:
        t = g.traffic
        rows.append(
            (
                g.id,
                g.version,
                g.state.value,
                f"{g.weight}%",
                f"{g.healthy_count()}/{len(g.instances)}",
                rate_text(t.rps).removesuffix(" req/s") if t else "—",
                percent_text(t.error_rate) if t else "—",
                (ms_text(t.p99_ms) if t.p99_ms is not None else f"avg {ms_text(t.avg_ms)}")
                if t and (t.p99_ms is not None or t.avg_ms is not None)
                else "—",
                humanize.naturaltime(now - g.launched_at),
                g.launched_by,
                g.note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    lines += [f"! {difference}" for difference in snapshot.differences]
    lines += [f"! {problem}" for problem in snapshot.problems]
    for g in snapshot.generations:
        lines += [f"! {g.id} is tainted (retire it; launch a new generation): {d}" for d in g.drift]
        if g.rebuild_due:
            age = humanize.naturaldelta(now - g.launched_at)
            lines.append(f"! {g.id} is {age} old: rebuild due")
    for g in snapshot.generations:
        lines += [
            f"! {g.id} does worse than its baseline: {w}"
            for w in worse_than_baseline(snapshot, g.id)
        ]
    return "\n".join(lines)


async def history(args: argparse.Namespace, session: FleetSession) -> int:
    if args.check:
        report = await session.backend.journal.check(session.name)
        if args.json:
            emit({"fleet": session.name, **report.to_json()})
            return 0 if report.intact else 1
        if not report.intact:
            raise OperationFailed(f"the journal of {session.name} is broken: {report.broken}")
        print(
            f"journal of {session.name}: {report.records} records, chain intact, "
            f"head anchored by {report.anchored}"
        )
        return 0
    records = await session.history()
    if args.json:
        emit({"fleet": session.name, "records": [r.to_json() for r in records]})
        return 0
    for record in records:
        print(
            f"{iso(record.at)}  {record.operator:<12} {record.outcome.value:<8} {record.summary()}"
        )
    if not records:
        print(f"no actions on {session.name} yet")
    return 0


async def verify(args: argparse.Namespace, session: FleetSession) -> int:
    reports = await session.verify([args.generation] if args.generation else None)
    if args.json:
        emit({"fleet": session.name, "reports": [r.to_json() for r in reports]})
    else:
        for report in reports:
            if report.clean:
                hosts = f"{len(report.checked)} host{'' if len(report.checked) == 1 else 's'}"
                print(f"{report.generation}: clean ({hosts} checked)")
            for drift in report.drift:
                print(f"{report.generation}: {drift.host}: {drift.change.value} {drift.path}")
            for host in report.unreachable:
                print(f"{report.generation}: {host}: unreachable, not checked")
    return 0 if all(r.clean for r in reports) else 1
