"""Bringing HAProxy to the desired state: the servers of every active generation, at
weights that give each generation its percent of the traffic.

Runtime changes to HAProxy are lost when it reloads; the desired state on the LB host
is not. Every read compares the two and reports the difference; ``molt apply`` (and
every shift) puts back what is missing (servers, weights) and removes servers Molt
added for generations that no longer exist. A read never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backends.config.health_settings import HealthSettings
from backends.core.guards import check_keeps_healthy_traffic
from backends.core.model import generation_number
from backends.ssh.haproxy import Haproxy, ServerStat, server_weights
from backends.ssh.state import FleetState

_OURS = re.compile(r"^(g[1-9][0-9]*)-")


@dataclass(frozen=True, slots=True)
class Applied:
    """What bringing HAProxy to the desired state did, and what it could not do."""

    added: tuple[str, ...] = ()
    reweighted: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def desired_weights(state: FleetState) -> dict[str, int]:
    """HAProxy weight of every server that should be in service, by server name."""
    active = [g for g in state.generations if g.lifecycle == "active"]
    per_server = server_weights({g.id: (g.weight, len(g.servers)) for g in active})
    return {i.id: per_server[g.id] for g in active for i in g.servers}


def difference(state: FleetState, stats: dict[str, ServerStat]) -> str:
    """What in HAProxy differs from the desired state, in one line ("" when nothing)."""
    wanted = desired_weights(state)
    missing = [name for name in wanted if name not in stats]
    reweigh = [
        n
        for n, w in wanted.items()
        if n in stats and stats[n].weight != w and not stats[n].status.startswith("MAINT")
    ]
    what = []
    if missing:
        what.append(f"{len(missing)} servers missing")
    if reweigh:
        shown = ", ".join(f"{n} {stats[n].weight} (desired {wanted[n]})" for n in reweigh[:3])
        what.append(f"weights differ: {shown}")
    return ("HAProxy differs from the desired state (" + "; ".join(what) + ")") if what else ""


def check_keeps_traffic(state: FleetState, stats: dict[str, ServerStat]) -> None:
    """:class:`Refused` when bringing HAProxy to the desired state would leave no server
    that is up carrying traffic, where one carries it now (servers added back start
    down until their checks pass)."""
    up = [n for n, s in stats.items() if s.status.upper().startswith("UP")]
    carrying = [n for n in up if stats[n].weight > 0]
    wanted = desired_weights(state)
    after = [n for n in up if wanted.get(n, 0) > 0 or (n in carrying and not _OURS.match(n))]
    check_keeps_healthy_traffic(
        carrying,
        after,
        change="applying the desired state",
        serving="server",
        now=", ".join(sorted(carrying)[:3]),
        then="shift or launch first",
    )


async def apply(
    haproxy: Haproxy,
    state: FleetState,
    stats: dict[str, ServerStat],
    health: HealthSettings,
    *,
    weights: dict[str, int] | None = None,
) -> Applied:
    """Add missing servers, set weights that differ, remove orphans. ``weights``: the
    desired server weights (default: from ``state``)."""
    wanted = desired_weights(state) if weights is None else weights
    endpoints = {i.id: i.endpoint for g in state.generations for i in g.servers}
    commands: list[str] = []
    added, reweighted = [], []
    for name, weight in wanted.items():
        stat = stats.get(name)
        if stat is None:
            added.append(name)
            commands += haproxy.add_commands(
                name,
                endpoints[name],
                inter_ms=max(100, int(health.interval * 1000)),
                rise=health.healthy_threshold,
                fall=health.unhealthy_threshold,
                weight=weight,
            )
        elif stat.weight != weight and not stat.status.upper().startswith("MAINT"):
            reweighted.append(name)
            commands.append(f"set server {haproxy.server(name)} weight {weight}")
    known = {g.id for g in state.generations}
    orphans = [
        name
        for name in stats
        if (match := _OURS.match(name))
        and match.group(1) not in known
        and generation_number(match.group(1)) < state.next_generation
    ]
    problems = []
    if commands:
        answers = await haproxy.batch(commands, check=False)
        for command, answer in zip(commands, answers, strict=True):
            text = answer.strip()
            if command.startswith("add server"):
                if "New server registered" not in text and "already exists" not in text.lower():
                    problems.append(f"HAProxy refused `{command}`: {text or 'no answer'}")
            elif text:
                problems.append(f"HAProxy refused `{command}`: {text}")
    if orphans:
        await haproxy.remove(orphans)
    return Applied(tuple(added), tuple(reweighted), tuple(orphans), tuple(problems))
