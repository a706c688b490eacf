"""Actions Molt was stopped in the middle of: a *started* journal record whose lease is
gone, that nothing has finished since — and the command that finishes it."""

from __future__ import annotations

from datetime import timedelta

from backends.core.journal import JournalRecord, Outcome
from backends.core.locking import Lease
from backends.core.model import FleetSnapshot, Lifecycle


def interrupted(
    records: list[JournalRecord], snapshot: FleetSnapshot, holders: list[Lease | None]
) -> list[JournalRecord]:
    """Actions that started and never ended (Molt was killed mid-way), or ended
    ``interrupted``, and that neither a later action nor the fleet itself shows finished
    (the local agent finishes a launch or retire on its own). One whose lease is still
    held (``holders``) is running, not interrupted."""
    running = {h.record for h in holders if h is not None}
    left = []
    for index, record in enumerate(records):
        if record.outcome not in (Outcome.STARTED, Outcome.INTERRUPTED):
            continue
        if record.id in running:
            continue
        if any(finishes(later, record) for later in records[index + 1 :]):
            continue
        if _done_anyway(record, snapshot):
            continue
        left.append(record)
    return left


WEIGHT_ACTIONS = frozenset({"shift", "promote", "rollback"})


def finishes(later: JournalRecord, cut: JournalRecord) -> bool:
    """Does ``later`` (which went through) finish what ``cut`` left undone?"""
    if later.outcome is not Outcome.OK:
        return False
    if cut.action in WEIGHT_ACTIONS:
        return later.action in WEIGHT_ACTIONS
    if cut.action == "launch":
        return later.action == "launch" and later.args.get("version") == cut.args.get("version")
    return later.action == cut.action and later.args.get("generation") == cut.args.get("generation")


def _done_anyway(record: JournalRecord, snapshot: FleetSnapshot) -> bool:
    """Does the fleet show that the cut-short action got done all the same?"""
    if record.action == "retire":
        return snapshot.generation(str(record.args.get("generation"))) is None
    if record.action == "launch":
        return any(
            g.version == record.args.get("version")
            and g.launched_by == record.operator
            and g.launched_at >= record.at - timedelta(seconds=5)
            and g.lifecycle is not Lifecycle.LAUNCHING
            for g in snapshot.generations
        )
    return False


def again(record: JournalRecord, fleet: str) -> str:
    """The command that finishes an interrupted action."""
    generation = record.args.get("generation")
    if record.action == "retire" and generation:
        return f"molt retire {fleet} {generation}"
    if record.action == "launch":
        return f"molt launch {fleet} --version {record.args.get('version')}"
    if record.action == "apply":
        return f"molt apply {fleet}"
    return f"molt status {fleet}, then shift again"
