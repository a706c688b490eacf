"""What already served in the HAProxy backend when Molt came: its servers that Molt did
not add, shown as one external generation ``g0``.

Molt shifts traffic to and from ``g0`` with HAProxy's runtime API (``set server …
weight``), never launches into it and never touches a process on its hosts: retiring
``g0`` puts its servers in maintenance at weight 0, nothing more. Its percent, once Molt
shifted it, is kept in the fleet's desired state like every generation's weight.
"""

from __future__ import annotations

from datetime import datetime

from backends.contract import check_complete
from backends.core.clock import utcnow
from backends.core.errors import OperationFailed
from backends.core.guards import (
    check_external_named,
    check_external_present,
    check_takes_traffic,
)
from backends.core.model import (
    EXTERNAL_GENERATION,
    Generation,
    Health,
    Instance,
)
from backends.core.traffic import combine
from backends.ssh import traffic
from backends.ssh.haproxy import ServerStat
from backends.ssh.meter import ServerMeter
from backends.ssh.parts import FleetParts
from backends.ssh.retiring import HeldInState
from backends.ssh.state import FleetState


def health(stat: ServerStat) -> Health:
    """HAProxy's status of a server Molt did not add, as an instance's health."""
    status = stat.status.upper()
    if status.startswith(("MAINT", "DRAIN", "NOLB")):
        return Health.GONE
    if status.startswith("DOWN"):
        return Health.UNHEALTHY
    return Health.HEALTHY if status.startswith(("UP", "NO CHECK")) else Health.PENDING


def percent(state: FleetState, stats: dict[str, ServerStat], external: list[str]) -> int:
    """``g0``'s share: as Molt set it, or (never shifted) its servers' share of the
    weights HAProxy has now."""
    if state.external_weight is not None:
        return state.external_weight
    serving = [s for s in stats.values() if not s.status.upper().startswith("MAINT")]
    total = sum(s.weight for s in serving)
    mine = sum(stats[n].weight for n in external)
    return round(100 * mine / total) if total else 0


def external_generation(
    state: FleetState,
    stats: dict[str, ServerStat],
    meter: ServerMeter,
    since: datetime,
) -> Generation | None:
    """``g0`` from ``show stat``, or None when the backend has no server Molt did not add."""
    external = traffic.external_servers(stats)
    if not external:
        return None
    instances = tuple(
        Instance(
            id=name,
            address="",
            health=health(stats[name]),
            host="haproxy",
            last_check=stats[name].check_desc or stats[name].check_status,
            traffic=meter.traffic(name, stats[name]),
        )
        for name in external
    )
    weight = percent(state, stats, external)
    return Generation.adopted(
        instances,
        weight,
        since=since,
        what=f"HAProxy servers {', '.join(external)}",
        traffic=combine((i.traffic for i in instances), utcnow()),
    )


async def set_weights(parts: FleetParts, weights: dict[str, int]) -> None:
    """Every generation's weight (``g0`` included when the backend has servers Molt did
    not add) into the desired state, then HAProxy brought to it."""
    async with parts.store.update() as state:
        stats = await parts.haproxy.servers()
        external = traffic.external_servers(stats)
        adopting = EXTERNAL_GENERATION in weights and bool(external)
        check_external_named(parts.name, bool(external), adopting)
        names = [g.id for g in state.generations]
        complete = check_complete(weights, [EXTERNAL_GENERATION, *names] if adopting else names)
        for record in state.generations:
            check_takes_traffic(record.id, record.lifecycle, complete[record.id])
        for record in state.generations:
            record.weight = complete[record.id]
        state.external_weight = complete[EXTERNAL_GENERATION] if adopting else None
        applied = await traffic.apply(parts.haproxy, state, stats, parts.settings.health)
        if applied.problems:
            raise OperationFailed(applied.problems[0])


class ExternalRetirement(HeldInState):
    """``g0``'s retire: judged and marked under the desired state's lock; its servers
    go to weight 0 and maintenance. Their processes are not Molt's: never touched."""

    where = "in HAProxy"

    def __init__(self, parts: FleetParts) -> None:
        super().__init__(parts, EXTERNAL_GENERATION)
        self._external: list[str] = []

    async def carried(self) -> int:
        assert self._state is not None, "read in held() first"
        stats = await self.parts.haproxy.servers()
        self._external = traffic.external_servers(stats)
        check_external_present(self.parts.name, bool(self._external))
        return percent(self._state, stats, self._external)

    async def mark_draining(self) -> None:
        assert self._state is not None, "read in held() first"
        haproxy = self.parts.haproxy
        commands = [f"set server {haproxy.server(n)} weight 0" for n in self._external]
        commands += [f"set server {haproxy.server(n)} state maint" for n in self._external]
        await haproxy.batch(commands)
        self._state.external_weight = None

    async def drain(self) -> None:
        """Nothing to wait for: it carried no traffic."""

    async def destroy(self) -> None:
        """Nothing to destroy: its servers' processes are not Molt's."""


async def retire_external(parts: FleetParts) -> None:
    await ExternalRetirement(parts).run()
