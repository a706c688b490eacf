"""Words and glyphs the TUI shows, as pure functions (no Textual), so they are easy to test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo

import humanize

from backends.core.events import (
    Event,
    EventKind,
    HealthChanged,
    InstanceRestarted,
    OperatorAction,
    ReadError,
    TrafficCrossed,
)
from backends.core.journal import JournalRecord
from backends.core.model import FleetSnapshot, Generation, Health
from backends.core.text import printable


def counted(number: int, thing: str) -> str:
    """``1 line``, ``3 lines``: a count and its word, singular for one."""
    return f"{number} {thing}{'' if number == 1 else 's'}"


#: one glyph per health, distinct in shape so they read without color (NO_COLOR)
GLYPHS: Mapping[Health, str] = {
    Health.HEALTHY: "●",
    Health.PENDING: "◌",
    Health.UNHEALTHY: "✖",
    Health.GONE: "·",
}

#: a marker per event kind, for the same reason
EVENT_MARKS: Mapping[EventKind, str] = {
    EventKind.ACTION: "»",
    EventKind.STATE: "◆",
    EventKind.WEIGHTS: "⇄",
    EventKind.ERROR: "⚠",
    EventKind.DIFFERENCE: "≠",
    EventKind.TRAFFIC: "⚑",
}
RESTARTED = "↻"
CLEARED = "✓"
FLAG = "⚑"  # a generation doing worse than its baseline on real requests
TAINTED = "✗"  # what runs is no longer what was launched (drift)
REBUILD = "⟳"  # older than the fleet's max_age: due a rebuild


def literal(text: str) -> str:
    """Text from outside (a note, a version, a remote error, a hostname) as it is shown:
    every character literally — markup stays brackets, because callers put it in
    ``Text``/``Content``/``Segment``s, never in markup — except control characters,
    written as escapes (``\\x1b``, ``\\x0a``) so none reaches the terminal or breaks a line,
    and tabs as one space (a tab has no width in a cell grid)."""
    return printable(text).replace("\t", " ")


def age(moment: datetime, now: datetime) -> str:
    """``3 minutes ago``; never "in the future" when clocks disagree a little."""
    return humanize.naturaltime(max(now - moment, now - now))


def health_counts(generation: Generation) -> Counter[Health]:
    return Counter(i.health for i in generation.instances)


def counts_summary(generation: Generation, healths: Iterable[Health] | None = None) -> str:
    """``6/6 healthy`` when all is well, else ``480/500 healthy  ◌15 ✖5`` (``healths``:
    the instances' healths when the caller has them already)."""
    counts = Counter(healths) if healths is not None else health_counts(generation)
    total = sum(n for h, n in counts.items() if h is not Health.GONE)
    healthy = counts[Health.HEALTHY]
    if not total:
        return "no instances yet"
    others = [f"{GLYPHS[h]}{counts[h]}" for h in (Health.PENDING, Health.UNHEALTHY) if counts[h]]
    return "  ".join([f"{healthy}/{total} healthy", *others])


def weights_text(weights: Mapping[str, int]) -> str:
    """``g1=90 g2=10``"""
    return " ".join(f"{g}={w}" for g, w in weights.items())


def staged_text(before: Mapping[str, int], after: Mapping[str, int]) -> str:
    """``g1 100% → 90%   g2 0% → 10%`` for the generations a staged shift changes."""
    changed = [g for g in after if after[g] != before.get(g, 0)]
    return "   ".join(f"{g} {before.get(g, 0)}% → {after[g]}%" for g in changed)


def clock_time(moment: datetime, tz: tzinfo | None) -> str:
    """``14:02:11`` in the display time zone (local unless the app was given one)."""
    return moment.astimezone(tz).strftime("%H:%M:%S")


def record_event(record: JournalRecord) -> OperatorAction:
    """A journal record as the event stream shows it (the agent publishes the same)."""
    return OperatorAction(fleet=record.fleet, at=record.at, record=record)


def event_mark(event: Event) -> str:
    """The glyph in front of an event: the new health for health events."""
    if isinstance(event, HealthChanged):
        return GLYPHS[event.after]
    if isinstance(event, InstanceRestarted):
        return RESTARTED
    if isinstance(event, ReadError) and event.cleared:
        return CLEARED
    if isinstance(event, TrafficCrossed) and not event.worse:
        return CLEARED
    return EVENT_MARKS.get(event.kind, "·")


def difference_line(differences: Iterable[str]) -> str:
    """What a read-only session found different and left alone, in one line."""
    found = list(differences)
    if not found:
        return ""
    more = f"  (+{len(found) - 1} more)" if len(found) > 1 else ""
    return found[0] + more


def event_matches(event: Event, tokens: Iterable[str]) -> bool:
    """Does ``event`` match every filter token? ``g3`` means generation g3, ``g3-1``
    instance g3-1; any other token is looked for in the text, ignoring case."""
    haystack: str | None = None
    for token in tokens:
        if is_generation_id(token):
            if event.generation != token:
                return False
        elif is_instance_id(token):
            if event.instance != token:
                return False
        else:
            if haystack is None:
                haystack = f"{event.kind.value} {event.operator or ''} {event.text()}".lower()
            if token.lower() not in haystack:
                return False
    return True


def is_generation_id(token: str) -> bool:
    return len(token) > 1 and token[0] == "g" and token[1:].isdigit()


def is_instance_id(token: str) -> bool:
    generation, dash, number = token.partition("-")
    return bool(dash) and is_generation_id(generation) and number.isdigit()


def goodbye(
    fleet: str,
    snapshot: FleetSnapshot | None,
    entry_label: Callable[[str], str],
    hints: Iterable[str] = (),
    interrupted: Iterable[str] = (),
) -> str:
    """What Molt says on the way out: closing it never stops the fleet; an operation it
    cut short is named, with how to finish it."""
    where = ""
    if snapshot is not None:
        count = len(snapshot.generations)
        where = f" ({count} generation{'s' * (count != 1)}, {entry_label(snapshot.entry)})"
    lines = [f"Molt closed; the {fleet} fleet keeps running{where}."]
    lines[0] += "".join(f" {hint}" for hint in dict.fromkeys(h for h in hints if h))
    cut_short = list(interrupted)
    if cut_short:
        lines.append(
            "Interrupted (journaled so; run the same action again to finish it): "
            + "; ".join(cut_short)
        )
    return "\n".join(lines)
