"""``molt report``: what happened to a fleet, in order, as Markdown to paste into an
incident document — a headline, the generations now, their weights over time, every
action and who took it, health incidents, and the error rates per generation. And the
TUI's timeline: the same journal merged with the health and traffic events seen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backends.core.chain import ChainReport
from backends.core.clock import utcnow
from backends.core.durations import parse_duration
from backends.core.events import (
    Event,
    HealthChanged,
    InstanceRestarted,
    StateChanged,
    TrafficCrossed,
    WeightsChanged,
)
from backends.core.journal import JournalRecord, Outcome
from backends.core.model import GENERATION_ID, FleetSnapshot, GenerationState, Health
from backends.core.text import printable
from backends.core.traffic import ms_text, percent_text, rate_text

WEIGHT_ACTIONS = frozenset({"shift", "promote", "rollback"})


#: how far back --since may go: further, a date would fall before year 1
SINCE_MAX = timedelta(days=36500)


def parse_since(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``, ``2 weeks``."""
    try:
        since = parse_duration(text)
    except ValueError:
        raise ValueError(f"--since looks like 30m, 2h or 1d, not {text!r}") from None
    if since > SINCE_MAX:
        raise ValueError(f"--since goes back at most 100 years (36500d), not {text!r}")
    return since


def _cell(text: object) -> str:
    """Text from outside, safe in a Markdown table cell and in a terminal."""
    return printable(str(text)).replace("|", "\\|").replace("\n", " ")


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def headline(records: Sequence[JournalRecord], snapshot: FleetSnapshot) -> str:
    """The one line an incident document starts with."""
    aborts = [r for r in records if r.action == "rollout" and r.args.get("event") == "abort"]
    if aborts:
        last = aborts[-1]
        who = (
            f"the rollout judge (started by {last.args.get('started_by') or last.operator})"
            if last.by_judge
            else last.operator
        )
        return f"Rollout of {last.args.get('generation')} aborted by {who}: " + str(
            last.args.get("reason") or "no reason given"
        )
    failed = [r for r in records if r.outcome in (Outcome.FAILED, Outcome.INTERRUPTED)]
    if failed:
        last = failed[-1]
        return f"{last.action} by {last.operator} {last.outcome.value}: {last.reason}"
    rollbacks = [r for r in records if r.action == "rollback" and r.outcome is Outcome.OK]
    if rollbacks:
        return f"Rolled back to {rollbacks[-1].args.get('generation')} by {rollbacks[-1].operator}"
    live = [g for g in snapshot.generations if g.weight]
    serving = ", ".join(f"{g.id} ({g.version}) {g.weight}%" for g in live) or "nothing"
    return f"{len(records)} actions, none failed; serving {serving}"


def report(
    snapshot: FleetSnapshot,
    records: Sequence[JournalRecord],
    chain: ChainReport,
    since: timedelta,
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    start = now - since
    window = [r for r in records if r.at >= start]
    lines = [
        f"# {snapshot.fleet}: {_cell(headline(window, snapshot))}",
        "",
        f"Fleet **{snapshot.fleet}** on the {snapshot.backend} backend (entry "
        f"`{_cell(snapshot.entry)}`), from {_time(start)} to {_time(now)} UTC. "
        + (
            f"Journal: {chain.records} records, hash chain intact."
            if chain.intact
            else f"Journal: **hash chain broken** — {_cell(chain.broken)}."
        ),
        "",
    ]
    lines += _generations(snapshot) + _weights(window, snapshot) + _actions(window)
    lines += _incidents(window, snapshot) + _traffic(snapshot)
    return "\n".join(lines).rstrip() + "\n"


def _generations(snapshot: FleetSnapshot) -> list[str]:
    lines = [
        "## Generations now",
        "",
        "| generation | version | state | weight | healthy | launched | by | note |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    for g in snapshot.generations:
        healthy = sum(1 for i in g.instances if i.health is Health.HEALTHY)
        lines.append(
            f"| {g.id} | {_cell(g.version)} | {g.state.value} | {g.weight}% | "
            f"{healthy}/{len(g.instances)} | {_time(g.launched_at)} | {_cell(g.launched_by)} | "
            f"{_cell(g.note)} |"
        )
    return [*lines, ""]


def _weights(records: Sequence[JournalRecord], snapshot: FleetSnapshot) -> list[str]:
    changes = [
        r
        for r in records
        if r.outcome is Outcome.OK and r.weights_after and r.weights_after != r.weights_before
    ]
    ids = sorted(
        {g for r in changes for g in r.weights_after} | set(snapshot.weights),
        key=lambda g: int(g[1:]) if g[1:].isdigit() else 0,
    )
    lines = ["## Weights over time", ""]
    if not changes:
        return [*lines, "No weight changed in this period.", ""]
    lines += [
        "| time (UTC) | by | action | " + " | ".join(ids) + " |",
        "|---|---|---|" + "---:|" * len(ids),
    ]
    for r in changes:
        cells = " | ".join(
            f"{r.weights_after.get(g, 0)}%" if g in r.weights_after else "—" for g in ids
        )
        lines.append(f"| {_time(r.at)} | {_cell(r.operator)} | {_cell(r.summary())} | {cells} |")
    return [*lines, ""]


def _actions(records: Sequence[JournalRecord]) -> list[str]:
    lines = ["## Actions", ""]
    if not records:
        return [*lines, "No action in this period.", ""]
    for r in records:
        lines.append(
            f"- {_time(r.at)} **{_cell(r.operator)}** {_cell(r.summary())} — {r.outcome.value}"
        )
    who = sorted({r.operator for r in records})
    return [*lines, "", f"Actors: {', '.join(_cell(w) for w in who)}.", ""]


def _incidents(records: Sequence[JournalRecord], snapshot: FleetSnapshot) -> list[str]:
    found = []
    for r in records:
        if r.outcome in (Outcome.FAILED, Outcome.INTERRUPTED, Outcome.REFUSED):
            found.append(f"- {_time(r.at)} {r.action} {r.outcome.value}: {_cell(r.reason)}")
        elif r.action == "rollout" and r.args.get("event") in ("abort", "inconclusive"):
            found.append(
                f"- {_time(r.at)} rollout {r.args['event']}: {_cell(r.args.get('reason'))}"
            )
        elif r.action == "verify" and r.args.get("drift"):
            found.append(
                f"- {_time(r.at)} drift in {r.args.get('generation')}: "
                + _cell("; ".join(map(str, r.args["drift"])))
            )
    for g in snapshot.generations:
        sick = [i for i in g.instances if i.health is Health.UNHEALTHY]
        if sick:
            found.append(
                f"- now: {g.id} has {len(sick)} unhealthy instances ({_cell(sick[0].last_check)})"
            )
    return ["## Health incidents", "", *(found or ["None recorded."]), ""]


def _traffic(snapshot: FleetSnapshot) -> list[str]:
    lines = [
        "## Error rates per generation (now)",
        "",
        "| generation | req/s | 5xx | p99 | window |",
        "|---|---:|---:|---:|---:|",
    ]
    known = [g for g in snapshot.generations if g.traffic is not None]
    for g in known:
        t = g.traffic
        assert t is not None
        lines.append(
            f"| {g.id} | {rate_text(t.rps)} | {percent_text(t.error_rate)} | "
            f"{ms_text(t.p99_ms)} | {t.window_s or '—'} s |"
        )
    return lines + ([""] if known else ["", "No traffic numbers are known yet.", ""])


# the timeline: the TUI's ``t`` ---------------------------------------------------------
class MomentKind(StrEnum):
    ACTION = "action"  # an operator's action, from the journal
    HEALTH = "health"  # an instance went unhealthy (or recovered, or was restarted)
    TRAFFIC = "traffic"  # the weights moved, or a generation did worse than its baseline
    DRIFT = "drift"  # verify found a generation running something it was not launched from


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of a fleet's timeline. ``alarm``: something went wrong (a failed or
    refused action, an unhealthy instance, drift); ``generations``: the ones it is about."""

    at: datetime
    kind: MomentKind
    text: str
    generations: tuple[str, ...] = ()
    instance: str = ""
    who: str = ""
    alarm: bool = False

    def matches(self, tokens: Sequence[str]) -> bool:
        """Does it match every token? ``g3`` means generation g3, ``g3-1`` instance
        g3-1; any other token is looked for in the kind, who and text, ignoring case."""
        haystack = f"{self.kind.value} {self.who} {self.text}".lower()
        for token in tokens:
            generation, dash, number = token.partition("-")
            if GENERATION_ID.match(token):
                if token not in self.generations:
                    return False
            elif dash and GENERATION_ID.match(generation) and number.isdigit():
                if self.instance != token:
                    return False
            elif token.lower() not in haystack:
                return False
        return True


ALARMS = frozenset({Outcome.FAILED, Outcome.INTERRUPTED, Outcome.REFUSED})
SAME_CHANGE = timedelta(minutes=1)  # a weights event this close to its journaled action


def _moved(before: Mapping[str, int], after: Mapping[str, int]) -> tuple[str, ...]:
    return tuple(g for g in {**before, **after} if before.get(g, 0) != after.get(g, 0))


def _action(record: JournalRecord) -> Moment:
    args = record.args
    named = (str(args["generation"]),) if args.get("generation") else ()
    moved = _moved(record.weights_before, record.weights_after)
    concerned = tuple(dict.fromkeys([*named, *(args.get("weights") or {}), *moved]))
    if record.action == "verify" and args.get("drift"):
        found = "; ".join(map(str, args["drift"]))
        text = f"drift in {args.get('generation')}: {found}"
        return Moment(record.at, MomentKind.DRIFT, text, concerned, who=record.operator, alarm=True)
    text = record.summary()
    if record.outcome is Outcome.STARTED:
        text += " — started, no outcome yet"
    aborted = record.action == "rollout" and args.get("event") in ("abort", "inconclusive")
    alarm = record.outcome in ALARMS or aborted
    return Moment(record.at, MomentKind.ACTION, text, concerned, who=record.operator, alarm=alarm)


def noteworthy(event: Event) -> bool:
    """Does ``event`` belong on the timeline? Health incidents and traffic changes do;
    routine health (pending → healthy), actions (the journal has them) and reads do not."""
    if isinstance(event, HealthChanged):
        return event.after is Health.UNHEALTHY or (
            event.before is Health.UNHEALTHY and event.after is Health.HEALTHY
        )
    if isinstance(event, StateChanged):
        return event.after in (GenerationState.FAILED, GenerationState.DEGRADED)
    return isinstance(event, InstanceRestarted | WeightsChanged | TrafficCrossed)


def _event(event: Event) -> Moment:
    generations = (event.generation,) if event.generation else ()
    if isinstance(event, WeightsChanged):
        return Moment(event.at, MomentKind.TRAFFIC, event.text(), _moved(event.before, event.after))
    if isinstance(event, TrafficCrossed):
        return Moment(event.at, MomentKind.TRAFFIC, event.text(), generations, alarm=event.worse)
    alarm = not (isinstance(event, HealthChanged) and event.after is Health.HEALTHY)
    if isinstance(event, HealthChanged) and not alarm:
        text = f"{event.instance_id} recovered: unhealthy → healthy"
    else:
        text = event.text()
    return Moment(
        event.at, MomentKind.HEALTH, text, generations, instance=event.instance or "", alarm=alarm
    )


def _journaled(event: WeightsChanged, records: Sequence[JournalRecord]) -> bool:
    """Is this weights change the effect of an action already on the timeline?"""
    return any(
        r.outcome is Outcome.OK
        and dict(r.weights_after) == dict(event.after)
        and abs(r.at - event.at) <= SAME_CHANGE
        for r in records
    )


def timeline(records: Sequence[JournalRecord], events: Iterable[Event]) -> list[Moment]:
    """Operator actions (the journal), health incidents and traffic changes (events seen
    while watching), merged oldest first. A weights change an action made shows once,
    as the action."""
    moments = [_action(r) for r in records]
    for event in events:
        if not noteworthy(event):
            continue
        if isinstance(event, WeightsChanged) and _journaled(event, records):
            continue
        moments.append(_event(event))
    return sorted(moments, key=lambda m: m.at)
