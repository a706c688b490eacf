"""The headless subcommands. Each opens the same :class:`FleetSession` the TUI uses
(one backend, read-only or not, and its guarded :class:`Operations`), reads or acts,
then prints text (or stable JSON with ``--json``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import replace
from typing import Any

import humanize

from backends.config.loading import load_config
from backends.core.baseline import worse_than_baseline
from backends.core.errors import ConfigError, OperationFailed, Refused, shown
from backends.core.interrupted import again
from backends.core.journal import JournalRecord
from backends.core.model import FleetSnapshot, GenerationSpec, iso, utcnow
from backends.core.rollout import Rollout, judge_now
from backends.core.taint import annotate
from backends.core.traffic import ms_text, percent_text, rate_text
from backends.engine import rollout_driver
from backends.engine.session import FleetSession
from tui.cli import incident
from tui.cli.rollout import rollout as rollout_command
from tui.cli.watch import watch

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


def emit(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def say(text: str) -> None:
    """Progress for a person at a terminal. Never for pipelines: their stdout carries
    the result and their stderr only the one-line reason of a failure."""
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> int:
    if args.command == "agent":
        return await agent_command(args)
    config = load_config(args.config)
    fleet = config.fleet(getattr(args, "fleet", None))
    session = FleetSession(fleet, config.state_dir, read_only=bool(args.read_only))
    try:
        await session.prepare(progress=say)
        return int(await COMMANDS[args.command](args, session))
    finally:
        await session.close()


def _rollout_json(rollout: Rollout | None, snapshot: FleetSnapshot) -> dict[str, Any] | None:
    """The rollout with its evidence: judged now while it runs, as journaled once ended."""
    if rollout is None:
        return None
    judged = judge_now(rollout, snapshot, utcnow())
    evidence = judged.evidence_json() if judged is not None else list(rollout.checks)
    return {**rollout.to_json(), "evidence": evidence}


async def status(args: argparse.Namespace, session: FleetSession) -> int:
    await session.read()
    seen = await session.attention()  # the journal: rollout, interrupted actions, drift
    snapshot = annotate(
        session.snapshot or await session.read(), session.drift, session.fleet.max_age, utcnow()
    )
    snapshot = replace(snapshot, differences=await session.backend.differences(snapshot))
    holder, cut, rolling = seen.lock, seen.interrupted, seen.rollout
    if args.json:
        emit(
            {
                **snapshot.to_json(),
                "lock": holder.shown_json() if holder is not None else None,
                "interrupted": [_cut_json(r) for r in cut],
                "rollout": _rollout_json(rolling, snapshot),
            }
        )
        return 0
    print(format_status(snapshot))
    if holder is not None:
        print(f"! locked by {holder.describe()}")
    if rolling is not None and not rolling.ended:
        print(
            f"! rollout of {rolling.generation} against {rolling.baseline}: {rolling.state.value}"
            f", step {rolling.step}/{len(rolling.plan.steps)} ({rolling.weight}%)"
            + (f" — {rolling.reason}" if rolling.reason else "")
        )
        judged = judge_now(rolling, snapshot, utcnow())
        if judged is not None:
            print(f"! evidence: {judged.text()}")
    for record in cut:
        print(
            f"! interrupted: {record.operator} {record.action} {_target(record)} at "
            f"{iso(record.at)} never finished (Molt was stopped mid-way); "
            f"`{again(record, session.name)}` finishes it"
        )
    return 0


def _target(record: JournalRecord) -> str:
    args = record.args
    if "weights" in args:
        return " ".join(f"{g}={w}" for g, w in args["weights"].items())
    return str(args.get("generation") or args.get("version") or "")


def _cut_json(record: JournalRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "action": record.action,
        "target": _target(record),
        "by": record.operator,
        "at": iso(record.at),
        "outcome": record.outcome.value,
    }


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
    say(f"retiring {args.generation}: draining in-flight requests, then stopping its instances…")
    await session.ops.retire(args.generation)
    if args.json:
        emit({"generation": args.generation, "retired": True})
    else:
        print(f"{args.generation} retired")
    return 0


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
                print(f"{report.generation}: clean ({len(report.checked)} checked)")
            for drift in report.drift:
                print(f"{report.generation}: {drift.host}: {drift.change.value} {drift.path}")
            for host in report.unreachable:
                print(f"{report.generation}: {host}: unreachable, not checked")
    return 0 if all(r.clean for r in reports) else 1


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
    "status": status,
    "launch": launch,
    "shift": shift,
    "promote": promote,
    "rollback": rollback,
    "retire": retire,
    "apply": apply,
    "history": history,
    "verify": verify,
}
