"""Traffic of a local fleet: the proxy's routing table follows the generations' weights
and their healthy instances; a shift stores the complete weights, then reroutes."""

from __future__ import annotations

from collections.abc import Mapping

from backends.contract import check_complete
from backends.core.events import WeightsChanged
from backends.core.guards import check_takes_traffic
from backends.core.model import Health, Lifecycle
from backends.local.parts import FleetParts
from backends.local.routing import Route, Upstream


def reroute(fleet: FleetParts) -> None:
    """The proxy sends each active generation its weight, to its healthy instances."""
    fleet.router.update(
        Route(
            generation=g.row.id,
            weight=g.row.weight if g.lifecycle is Lifecycle.ACTIVE else 0,
            upstreams=tuple(
                Upstream(g.row.id, i.id, i.port)
                for i in g.instances.values()
                if i.judge.health is Health.HEALTHY
            ),
        )
        for g in fleet.generations.values()
    )


async def set_weights(fleet: FleetParts, weights: Mapping[str, int]) -> None:
    """The complete map: every generation the agent holds (retired ones are gone)."""
    async with fleet.lock:
        complete = check_complete(weights, fleet.generations)
        for generation_id, weight in complete.items():
            lifecycle = fleet.generations[generation_id].lifecycle
            check_takes_traffic(generation_id, lifecycle, weight)
        before = {g: r.row.weight for g, r in fleet.generations.items()}
        fleet.store.set_weights(fleet.name, complete)
        for generation_id, weight in complete.items():
            fleet.generations[generation_id].row.weight = weight
        reroute(fleet)
    if before != complete:
        fleet.publish(WeightsChanged(fleet=fleet.name, before=before, after=complete))
