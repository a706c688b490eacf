"""What ``molt status FLEET`` reads and the object ``--json`` prints — one function each,
shared by the single-fleet verb and the estate (``molt status`` with no fleet, the
estate screen), so the two cannot drift apart. And the estate's row of a fleet
(:class:`~backends.core.estate.FleetSummary`) built from the same read.

A read here looks and never writes: the fleet, the journal's standing records and the
locks, and what differs from molt.toml.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import humanize

from backends.core.baseline import worse_than_baseline
from backends.core.clock import iso, utcnow
from backends.core.estate import SPARK_SAMPLES, FleetSummary
from backends.core.journal import JournalRecord
from backends.core.model import FleetSnapshot
from backends.core.rollout import Rollout, RolloutState, judge_now
from backends.core.taint import annotate
from backends.core.text import printable
from backends.core.traffic import combine
from backends.engine.session import FleetSession
from backends.engine.updates import AttentionChanged

#: how long an ended rollout stays in a fleet's summary (its outcome is news for a while)
ENDED_SHOWN = timedelta(hours=1)
#: rollout states that wait for an operator
WAITING = frozenset({RolloutState.PAUSED, RolloutState.INTERRUPTED, RolloutState.INCONCLUSIVE})


@dataclass(frozen=True, slots=True)
class StatusRead:
    """One look at a fleet: its snapshot (drift and rebuilds marked, differences from
    molt.toml found) and its rollout, interrupted actions and lock holder."""

    snapshot: FleetSnapshot
    seen: AttentionChanged


async def read_status(
    session: FleetSession, *, clock: Callable[[], datetime] = utcnow, fresh: bool = True
) -> StatusRead:
    """What ``molt status FLEET`` reads: the fleet, then the journal and the locks.

    Args:
        session: the fleet's session (started or not; nothing is prepared).
        clock: the time ages are judged by (read once the fleet is).
        fresh: read now. False, for a session that already follows its fleet (the
            TUI's): take what it last saw, at no cost — if it has seen anything.
    """
    if not fresh and session.snapshot is not None:
        snapshot = annotate(session.snapshot, session.drift, session.fleet.max_age, clock())
        return StatusRead(snapshot, session.seen)
    await session.read()
    seen = await session.attention()  # the journal: rollout, interrupted actions, drift
    snapshot = annotate(
        session.snapshot or await session.read(), session.drift, session.fleet.max_age, clock()
    )
    snapshot = replace(snapshot, differences=await session.backend.differences(snapshot))
    return StatusRead(snapshot, seen)


def status_json(read: StatusRead, now: datetime) -> dict[str, Any]:
    """The object ``molt status FLEET --json`` prints."""
    holder, rolling = read.seen.lock, read.seen.rollout
    return {
        **read.snapshot.to_json(),
        "lock": holder.shown_json() if holder is not None else None,
        "interrupted": [interrupted_json(r) for r in read.seen.interrupted],
        "rollout": rollout_json(rolling, read.snapshot, now),
    }


def rollout_json(
    rollout: Rollout | None, snapshot: FleetSnapshot, now: datetime
) -> dict[str, Any] | None:
    """The rollout with its evidence: judged now while it runs, as journaled once ended."""
    if rollout is None:
        return None
    judged = judge_now(rollout, snapshot, now)
    evidence = judged.evidence_json() if judged is not None else list(rollout.checks)
    return {**rollout.to_json(), "evidence": evidence}


def target(record: JournalRecord) -> str:
    """What an action was aimed at: ``g1=90 g2=10``, ``g3``, ``v42``."""
    args = record.args
    if "weights" in args:
        return " ".join(f"{g}={w}" for g, w in args["weights"].items())
    return str(args.get("generation") or args.get("version") or "")


def interrupted_json(record: JournalRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "action": record.action,
        "target": target(record),
        "by": record.operator,
        "at": iso(record.at),
        "outcome": record.outcome.value,
    }


# the estate's row ------------------------------------------------------------------------
def summarize(
    session: FleetSession,
    read: StatusRead,
    records: Sequence[JournalRecord],
    now: datetime,
    rps: Sequence[float] = (),
) -> FleetSummary:
    """The estate's row of a fleet just read. ``records``: the journal records the
    session keeps (the newest is the fleet's last change); ``rps``: the samples of the
    reads before this one (this read's is added, the oldest dropped past
    :data:`~backends.core.estate.SPARK_SAMPLES`)."""
    snapshot, seen = read.snapshot, read.seen
    traffic = combine([g.traffic for g in snapshot.generations], now)
    sample = traffic.rps if traffic is not None and traffic.rps is not None else 0.0
    rollout = seen.rollout
    if rollout is not None and rollout.ended and now - rollout.since > ENDED_SHOWN:
        rollout = None
    return FleetSummary(
        name=session.name,
        backend=session.fleet.backend,
        read_at=now,
        snapshot=snapshot,
        rollout=rollout,
        attention=attention(read, now),
        last_change=max((r.at for r in records), default=None),
        rps=(*rps, sample)[-SPARK_SAMPLES:],
        status=status_json(read, now),
    )


def attention(read: StatusRead, now: datetime) -> tuple[str, ...]:
    """What needs an operator, most urgent first, in words (outside text made printable)."""
    snapshot, seen = read.snapshot, read.seen
    words: list[str] = []
    for record in seen.interrupted:
        words.append(
            f"interrupted: {record.action} {printable(target(record))} "
            f"by {printable(record.operator)}"
        )
    rollout = seen.rollout
    if rollout is not None and rollout.state in WAITING:
        words.append(
            f"rollout of {printable(rollout.generation)} {rollout.state.value} at step "
            f"{rollout.step}/{len(rollout.plan.steps)}"
            + (f": {printable(rollout.reason)}" if rollout.reason else "")
        )
    for g in snapshot.generations:
        if g.drift:
            words.append(f"{printable(g.id)} tainted")
    for g in snapshot.generations:
        words += [f"{printable(g.id)} worse: {w}" for w in worse_than_baseline(snapshot, g.id)]
    if seen.lock is not None:
        held = humanize.naturaldelta(max(now - seen.lock.since, timedelta(0)))
        words.append(
            f"lock held by {printable(seen.lock.holder)} for {held}: {printable(seen.lock.action)}"
        )
    return tuple(words)


def unreachable(summary: FleetSummary, problem: str, since: datetime) -> FleetSummary:
    """The fleet's last summary kept, marked unreachable (``problem``) since ``since``."""
    shown = f"unreachable since {since.strftime('%H:%M:%S')}: {printable(problem)}"
    kept = tuple(w for w in summary.attention if not w.startswith("unreachable"))
    return replace(summary, reachable=False, problem=problem, since=since, attention=(shown, *kept))
