"""What changed across the estate: every fleet's journal merged into one list, oldest
first — each launch, shift, promote, rollback, retire, apply, rollout event, taint (a
``verify`` record: drift found) and action cut short, with who, what and why. Pure: the
reading (each fleet's journal in parallel, with a deadline) is ``molt changes``'s
(:mod:`tui.cli.changes`).

Bounded twice: only the newest :data:`PER_FLEET` records of a fleet are kept, and the
merged list keeps the newest :data:`MAX_CHANGES`; :class:`Changes` says what was cut.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backends.core.clock import iso
from backends.core.journal import JUDGED, UNVERIFIED, JournalRecord, Outcome

#: the newest records of one fleet that are looked at (a journal grows for ever)
PER_FLEET = 1000
#: the newest changes a merged list keeps
MAX_CHANGES = 500
#: drift findings or differences named in one change's ``why``; the rest are counted
MAX_NAMED = 3

#: the outcomes that say why in so many words
_ENDED_BADLY = {
    Outcome.REFUSED: "refused",
    Outcome.FAILED: "failed",
    Outcome.INTERRUPTED: "interrupted",
}
#: the actions this Molt words itself; another's reason is kept from its args
_KNOWN = frozenset(
    {"launch", "shift", "promote", "rollback", "retire", "rollout", "verify", "apply"}
)
NOT_FINISHED = "not finished: still running, or Molt was stopped mid-way (molt status says which)"


@dataclass(frozen=True, slots=True)
class Change:
    """One journaled action on one fleet, as ``molt changes`` and the estate show it.

    Attributes:
        at: when it started (timezone-aware UTC).
        fleet: the fleet's name in molt.toml.
        who: the operator, or ``rollout judge`` for a verdict the judge reached.
        what: the action in a few words (``shift g1=90 g2=10``, ``launch v2 ×3 → g2``,
            ``taint g2``); outside text, show it literally.
        why: the operator's note or reason, a rollout's step, the drift found, how it
            ended if it did not go through ("" when nothing says).
        generation: the generation it concerns (None: several, or none).
        record: the journal record's id (``molt history FLEET`` shows it whole).
        outcome: ``ok``, ``refused``, ``failed``, ``interrupted`` or ``started`` (not
            finished: running, or Molt was stopped mid-way).
        action: the journal's action (``launch``, ``shift``, ``verify``…), for code.
    """

    at: datetime
    fleet: str
    who: str
    what: str
    why: str
    generation: str | None
    record: str
    outcome: str
    action: str

    def to_json(self) -> dict[str, Any]:
        """The object ``molt changes --json`` prints for each change."""
        return {
            "at": iso(self.at, precise=True),
            "fleet": self.fleet,
            "who": self.who,
            "what": self.what,
            "why": self.why,
            "generation": self.generation,
            "record": self.record,
            "outcome": self.outcome,
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class Changes:
    """A merged list and what was left out of it.

    Attributes:
        changes: oldest first, at most :data:`MAX_CHANGES`.
        left_off: older changes in the window that the cap left out.
        cut_fleets: fleets of which only the newest :data:`PER_FLEET` records were
            looked at (older ones in the window may be missing).
    """

    changes: tuple[Change, ...]
    left_off: int = 0
    cut_fleets: tuple[str, ...] = ()

    @property
    def cut(self) -> bool:
        return bool(self.left_off or self.cut_fleets)


def is_change(record: JournalRecord) -> bool:
    """Whether a record changed (or tried to change) the fleet: every action but a
    ``verify`` that found nothing."""
    return record.action != "verify" or bool(record.args.get("drift"))


def change(record: JournalRecord) -> Change:
    """``record`` in the words of a change."""
    args = record.args
    who = "rollout judge" if record.by_judge else record.operator
    what = _what(record)
    if record.forced:
        what += " [forced]"
    if record.unverified:  # first, wherever a record is shown: not proven real
        what = f"{UNVERIFIED} {what}"
    generation = args.get("generation")
    return Change(
        at=record.at,
        fleet=record.fleet,
        who=who,
        what=what,
        why="; ".join(part for part in _why(record) if part),
        generation=str(generation) if generation else None,
        record=record.id,
        outcome=record.outcome.value,
        action=record.action,
    )


def _what(record: JournalRecord) -> str:
    args = record.args
    action, generation = record.action, str(args.get("generation") or "")
    if action == "launch":
        words = [f"launch {args.get('version', '')}"]
        words += [f"×{args['count']}"] if args.get("count") else []
        words += [f"→ {generation}"] if generation else []
        words += ["(finished a launch cut short)"] if args.get("resumed") else []
        return " ".join(words)
    if action == "shift" and isinstance(args.get("weights"), Mapping):
        return " ".join(["shift", *(f"{g}={w}" for g, w in args["weights"].items())])
    if action in ("promote", "retire"):
        return f"{action} {generation}".rstrip()
    if action == "rollback":
        return f"rollback to {generation}" if generation else "rollback"
    if action == "rollout":
        event = str(args.get("event", ""))
        if record.by_judge:
            started_by = f" (started by {args['started_by']})" if args.get("started_by") else ""
            return f"rollout {JUDGED.get(event, event)} {generation}{started_by}"
        against = f" against {args['baseline']}" if args.get("baseline") else ""
        return f"rollout {event} {generation}{against}".replace("  ", " ").rstrip()
    if action == "verify":
        return f"taint {generation}".rstrip()
    if action == "apply":
        return "apply molt.toml"
    # an action this Molt does not know by name: the journal's own words, reasons aside
    return JournalRecord(
        fleet=record.fleet, action=action, operator=record.operator, args=args, outcome=Outcome.OK
    ).summary()


def _why(record: JournalRecord) -> list[str]:
    args = record.args
    parts: list[str] = []
    if record.action == "launch":
        parts.append(str(args.get("note") or ""))
    elif record.action == "shift" and args.get("rollout"):
        parts.append(
            f"rollout step {args['step']}/{args['of']}"
            if args.get("step")
            else "rollout back to the baseline"
        )
    elif record.action == "verify":
        parts.append(_named("drift", args.get("drift")))
    elif record.action == "apply":
        parts.append(_named("differs", args.get("differences")))
    if record.action == "rollout" or record.action not in _KNOWN:
        parts.append(str(args.get("reason") or ""))
    if record.outcome in _ENDED_BADLY:
        said = f": {record.reason}" if record.reason else ""
        parts.append(f"{_ENDED_BADLY[record.outcome]}{said}")
    elif record.outcome is Outcome.STARTED:
        parts.append(NOT_FINISHED)
    return parts


def _named(word: str, items: object) -> str:
    """``drift: a: changed x, b: added y and 4 more``."""
    found = [str(item) for item in items] if isinstance(items, list | tuple) else []
    if not found:
        return ""
    more = len(found) - MAX_NAMED
    return f"{word}: " + ", ".join(found[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")


def merge(
    journals: Mapping[str, Sequence[JournalRecord]],
    since: datetime | None = None,
    fleets: Collection[str] | None = None,
    *,
    per_fleet: int = PER_FLEET,
    limit: int = MAX_CHANGES,
) -> Changes:
    """Every change in ``journals`` (fleet → its folded records, oldest first), merged
    by time, oldest first: those at or after ``since`` (None: all), of ``fleets`` (None:
    every fleet given). Of each fleet only the newest ``per_fleet`` records are looked
    at; of the merged list only the newest ``limit`` are kept. Changes at the same
    instant keep their fleet's journal order, fleets by name."""
    keyed: list[tuple[datetime, str, int, Change]] = []
    cut_fleets: list[str] = []
    for fleet in sorted(journals):
        if fleets is not None and fleet not in fleets:
            continue
        records = list(journals[fleet])
        if len(records) > per_fleet:
            records = records[-per_fleet:]
            if since is None or records[0].at >= since:  # the window reaches past the cut
                cut_fleets.append(fleet)
        for index, record in enumerate(records):
            if (since is None or record.at >= since) and is_change(record):
                keyed.append((record.at, fleet, index, change(record)))
    keyed.sort(key=lambda item: item[:3])
    kept = keyed[-limit:] if limit > 0 else []
    return Changes(
        changes=tuple(item[3] for item in kept),
        left_off=len(keyed) - len(kept),
        cut_fleets=tuple(cut_fleets),
    )
