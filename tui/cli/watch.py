"""``molt watch FLEET``: the fleet's events and each generation's traffic as they happen,
for a person (plain lines) or a pipeline (``--json``: one object per line), until a
condition holds (``--until healthy:GEN`` or ``--until weight:GEN=100``) or ``--timeout``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backends.core.clock import iso, utcnow
from backends.core.errors import ConfigError, Unreachable
from backends.core.events import SnapshotTaken
from backends.core.model import FleetSnapshot, Health
from backends.core.traffic import traffic_line
from backends.engine.session import FleetSession
from backends.engine.updates import EventArrived, SnapshotUpdated, Update

TRAFFIC_EVERY = 5.0  # seconds between traffic lines of a generation


@dataclass(frozen=True, slots=True)
class Until:
    """What ``--until`` waits for, and how it reads."""

    text: str
    holds: Callable[[FleetSnapshot], bool]
    now: Callable[[FleetSnapshot], str]


def parse_until(text: str) -> Until:
    """``healthy:g2`` (every instance healthy) or ``weight:g2=100``."""
    kind, _, rest = text.partition(":")
    if kind == "healthy" and rest:
        generation = rest

        def healthy(snapshot: FleetSnapshot) -> bool:
            found = snapshot.generation(generation)
            return bool(found and found.instances) and all(
                i.health is Health.HEALTHY
                for i in found.instances  # type: ignore[union-attr]
            )

        def health_now(snapshot: FleetSnapshot) -> str:
            found = snapshot.generation(generation)
            if found is None:
                return f"{generation} is not in the fleet"
            return f"{generation} {found.healthy_count()}/{len(found.instances)} healthy"

        return Until(text, healthy, health_now)
    if kind == "weight" and "=" in rest:
        generation, _, value = rest.partition("=")
        if value.isdigit() and 0 <= int(value) <= 100:
            wanted = int(value)

            def weighed(snapshot: FleetSnapshot) -> bool:
                return snapshot.weights.get(generation) == wanted

            def weight_now(snapshot: FleetSnapshot) -> str:
                now = snapshot.weights.get(generation, "gone")
                return f"{generation} at {now} (waiting for {wanted})"

            return Until(text, weighed, weight_now)
    raise ConfigError(
        f"--until is healthy:GEN or weight:GEN=PCT (e.g. weight:g2=100), not {text!r}"
    )


class Watcher:
    """Prints what a session hears: events at once, traffic every few seconds."""

    def __init__(self, session: FleetSession, *, as_json: bool, until: Until | None) -> None:
        self.session = session
        self.as_json = as_json
        self.until = until
        self.done = asyncio.Event()
        self.last: FleetSnapshot | None = None
        self._printed: dict[str, float] = {}

    def __call__(self, update: Update) -> None:
        if isinstance(update, EventArrived) and not isinstance(update.event, SnapshotTaken):
            event = update.event
            if self.as_json:
                self._out(event.to_json())
            else:
                who = f"{event.generation:<4} " if event.generation else ""
                self._out(f"{_clock(event.at)} {who}{event.text()}")
        elif isinstance(update, SnapshotUpdated):
            self.last = update.snapshot
            self._traffic(update.snapshot)
            if self.until is not None and self.until.holds(update.snapshot):
                self.done.set()

    def _traffic(self, snapshot: FleetSnapshot) -> None:
        now = time.monotonic()
        for g in snapshot.generations:
            if g.traffic is None or now - self._printed.get(g.id, -1e9) < TRAFFIC_EVERY:
                continue
            self._printed[g.id] = now
            if self.as_json:
                self._out(
                    {
                        "kind": "traffic",
                        "at": iso(g.traffic.as_of),
                        "fleet": snapshot.fleet,
                        "generation": g.id,
                        "weight": g.weight,
                        "traffic": g.traffic.to_json() | {"history": None},
                    }
                )
            else:
                self._out(f"{_clock(utcnow())} {g.id:<4} {g.weight}%  {traffic_line(g.traffic)}")

    def _out(self, line: str | dict[str, Any]) -> None:
        text = line if isinstance(line, str) else json.dumps(line, separators=(",", ":"))
        print(text.translate(_CONTROL), flush=True)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0, 9), *range(11, 32), 127]}


def _clock(moment: Any) -> str:
    return str(moment.astimezone().strftime("%H:%M:%S"))


async def watch(args: argparse.Namespace, session: FleetSession) -> int:
    until = parse_until(args.until) if args.until else None
    watcher = Watcher(session, as_json=args.json, until=until)
    session.listen(watcher)
    session.start()
    if session.notifier is not None:  # a webhook that fails is said, not only shown
        session.notifier.report = lambda line: print(f"molt: {line}", file=sys.stderr, flush=True)
    try:
        async with asyncio.timeout(args.timeout):
            await watcher.done.wait()
    except TimeoutError:
        if until is None:
            return 0  # watched for as long as asked
        where = until.now(watcher.last) if watcher.last is not None else "the fleet was not read"
        raise Unreachable(
            f"--until {until.text} did not happen within {args.timeout:g} s: {where}"
        ) from None
    return 0
