"""What is worth telling the team, as pure functions of what a session sees: the journal's
records, the actions interrupted mid-way, the fleet lock, a snapshot — and the payload
each webhook gets.

Every notice has a **key**, the same in every Molt that sees the same happening, so that
of several Molts watching one fleet only one tells it (the claim is
:mod:`backends.engine.notify`'s). A journal record's id is its key; a taint is keyed by its
generation (several Molts may each journal the same drift); a generation worse than its
baseline by the pair; a lock held too long by the record of the action holding it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backends.core.baseline import baseline, worse_than_baseline
from backends.core.journal import JournalRecord, Outcome
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot, iso

ROLLOUT_ABORTED = "rollout-aborted"
ROLLOUT_INCONCLUSIVE = "rollout-inconclusive"
ROLLOUT_DONE = "rollout-done"
INTERRUPTED = "interrupted"
TAINT = "taint"
WORSE = "worse-than-baseline"
LOCK_HELD = "lock-held"
#: every event a webhook may ask for, in the words of molt.toml
EVENTS = (
    ROLLOUT_ABORTED,
    ROLLOUT_INCONCLUSIVE,
    ROLLOUT_DONE,
    INTERRUPTED,
    TAINT,
    WORSE,
    LOCK_HELD,
)
_ROLLOUT_ENDS = {
    "abort": ROLLOUT_ABORTED,
    "inconclusive": ROLLOUT_INCONCLUSIVE,
    "done": ROLLOUT_DONE,
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One happening worth telling: ``event`` (one of :data:`EVENTS`), its ``key`` (the
    same in every Molt), one line for people, and when it happened (None: not known, as
    for an action found interrupted — it is judged by when it was first seen)."""

    event: str
    fleet: str
    key: str
    text: str
    at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


def from_records(fleet: str, records: Iterable[JournalRecord]) -> list[Notice]:
    """The rollouts that ended (aborted, inconclusive, done) and the generations found
    tainted, in the journal records that hold in the chain (an unverified one decides
    nothing)."""
    notices: list[Notice] = []
    tainted: set[str] = set()
    for record in records:
        if record.unverified or record.outcome is not Outcome.OK:
            continue
        args = record.args
        event = _ROLLOUT_ENDS.get(str(args.get("event"))) if record.action == "rollout" else None
        if event is not None:
            notices.append(_rollout_end(fleet, event, record))
        elif record.action == "verify" and args.get("drift"):
            generation = str(args.get("generation", ""))
            if generation in tainted:
                continue  # said once per generation: it stays tainted until retired
            tainted.add(generation)
            drift = [str(d) for d in args["drift"]][:10]
            notices.append(
                Notice(
                    TAINT,
                    fleet,
                    f"{TAINT}:{generation}",
                    f"fleet {fleet}: {generation} is tainted — {'; '.join(drift)}",
                    record.at,
                    {"generation": generation, "drift": drift, "record": record.id},
                )
            )
    return notices


def _rollout_end(fleet: str, event: str, record: JournalRecord) -> Notice:
    args = record.args
    generation = str(args.get("generation", ""))
    words = {ROLLOUT_ABORTED: "aborted", ROLLOUT_INCONCLUSIVE: "ended inconclusive"}
    said = words.get(event, "done: it carries all the traffic")
    who = "the rollout judge" if record.by_judge else record.operator
    reason = str(args.get("reason") or "")
    text = f"fleet {fleet}: rollout of {generation} {said} (by {who})"
    return Notice(
        event,
        fleet,
        f"{event}:{record.id}",
        text + (f" — {reason}" if reason else ""),
        record.at,
        {"generation": generation, "by": who, "reason": reason, "record": record.id},
    )


def from_interrupted(fleet: str, records: Iterable[JournalRecord]) -> list[Notice]:
    """Actions Molt was stopped in the middle of (see :mod:`backends.core.interrupted`)."""
    return [
        Notice(
            INTERRUPTED,
            fleet,
            f"{INTERRUPTED}:{record.id}",
            f"fleet {fleet}: {record.summary()} by {record.operator} was interrupted",
            None,
            {"action": record.action, "operator": record.operator, "record": record.id},
        )
        for record in records
        if not record.unverified
    ]


def from_lock(fleet: str, lease: Lease | None, minutes: float, now: datetime) -> list[Notice]:
    """The fleet lock, held longer than ``minutes``."""
    if lease is None or now - lease.since < timedelta(minutes=minutes):
        return []
    return [
        Notice(
            LOCK_HELD,
            fleet,
            f"{LOCK_HELD}:{lease.record or lease.since.timestamp()}",
            f"fleet {fleet}: the lock has been held longer than {minutes:g} minutes "
            f"by {lease.describe()}",
            lease.since + timedelta(minutes=minutes),
            {"holder": lease.holder, "host": lease.host, "action": lease.action},
        )
    ]


def from_snapshot(snapshot: FleetSnapshot) -> list[Notice]:
    """Generations doing worse than their baseline."""
    notices = []
    for generation in snapshot.generations:
        findings = worse_than_baseline(snapshot, generation.id)
        base = baseline(snapshot, generation.id)
        if not findings or base is None:
            continue
        notices.append(
            Notice(
                WORSE,
                snapshot.fleet,
                f"{WORSE}:{generation.id}:{base.id}",
                f"fleet {snapshot.fleet}: {generation.id} does worse than its baseline "
                f"{base.id} — {'; '.join(findings)}",
                None,
                {"generation": generation.id, "baseline": base.id, "findings": findings},
            )
        )
    return notices


def sample(fleet: str = "example") -> Notice:
    """What ``molt notify test`` sends."""
    return Notice(
        "test",
        fleet,
        "test",
        "Molt test notice: this webhook is set up (nothing happened to any fleet)",
    )


def payload(notice: Notice, form: str, sent_at: datetime) -> dict[str, Any]:
    """What a webhook of format ``form`` gets: Slack's ``{"text": ...}`` (``&``, ``<``
    and ``>`` escaped), or Molt's own object (``event``, ``fleet``, ``key``, ``text``,
    ``at``, ``details``)."""
    if form == "slack":
        # Slack reads <…> as links and mentions: outside text (a reason, a file name)
        # is escaped as its docs ask, so it shows literally
        text = notice.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return {"text": text}
    return {
        "event": notice.event,
        "fleet": notice.fleet,
        "key": notice.key,
        "text": notice.text,
        "at": iso(notice.at or sent_at, precise=True),
        "details": notice.details,
    }
