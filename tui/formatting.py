"""Words and glyphs the TUI shows, as pure functions (no Textual), so they are easy to test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo

import humanize

from backends.journal import JournalRecord, Outcome
from backends.model import Event, EventKind, Generation, Health

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
}

#: what the traffic entry point is called, per backend
ENTRY_WORDS: Mapping[str, str] = {"local": "proxy", "aws": "ALB", "ssh": "HAProxy"}


def entry_label(backend: str, entry: str) -> str:
    """``proxy 127.0.0.1:8080``: the fleet's traffic entry point in the backend's words."""
    return f"{ENTRY_WORDS.get(backend, 'entry')} {entry or '—'}"


def age(moment: datetime, now: datetime) -> str:
    """``3 minutes ago``; never "in the future" when clocks disagree a little."""
    return humanize.naturaltime(max(now - moment, now - now))


def health_counts(generation: Generation) -> Counter[Health]:
    return Counter(i.health for i in generation.instances)


def counts_summary(generation: Generation) -> str:
    """``6/6 healthy`` when all is well, else ``480/500 healthy  ◌15 ✖5``."""
    counts = health_counts(generation)
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


def record_event(record: JournalRecord) -> Event:
    """A journal record as the event stream shows it (the agent publishes the same words)."""
    generation = record.args.get("generation")
    message = f"{record.operator} {record.summary()}"
    if record.outcome is Outcome.STARTED:  # still running, or Molt died half-way
        message += " — started, no outcome yet"
    return Event(
        at=record.at,
        fleet=record.fleet,
        kind=EventKind.ACTION,
        message=message,
        generation=str(generation) if generation else None,
        operator=record.operator,
    )


def event_mark(event: Event) -> str:
    """The glyph in front of an event: the new health for health events."""
    if event.kind is EventKind.HEALTH:
        return GLYPHS.get(event_health(event) or Health.GONE, "·")
    return EVENT_MARKS.get(event.kind, "·")


def event_health(event: Event) -> Health | None:
    """The health an instance moved to, read from ``g3-1 pending → unhealthy  ...``."""
    _, arrow, rest = event.message.partition("→ ")
    if not arrow:
        return Health.GONE if event.message.endswith(" gone") else None
    word = rest.split(maxsplit=1)[0] if rest.split() else ""
    try:
        return Health(word)
    except ValueError:
        return None


def event_matches(event: Event, tokens: Iterable[str]) -> bool:
    """Does ``event`` match every filter token? ``g3`` means generation g3, ``g3-1``
    instance g3-1; any other token is looked for in the text, ignoring case."""
    haystack = f"{event.kind.value} {event.operator or ''} {event.message}".lower()
    for token in tokens:
        if is_generation_id(token):
            if event.generation != token:
                return False
        elif is_instance_id(token):
            if event.instance != token and token not in event.message.split():
                return False
        elif token.lower() not in haystack:
            return False
    return True


def is_generation_id(token: str) -> bool:
    return len(token) > 1 and token[0] == "g" and token[1:].isdigit()


def is_instance_id(token: str) -> bool:
    generation, dash, number = token.partition("-")
    return bool(dash) and is_generation_id(generation) and number.isdigit()
