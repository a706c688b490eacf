"""Small builders of model objects for pure tests."""

from __future__ import annotations

from datetime import UTC, datetime

from backends.core.model import (
    FleetSnapshot,
    Generation,
    Health,
    Instance,
    Lifecycle,
    derive_state,
)

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


def generation(
    number: int,
    weight: int = 0,
    healths: tuple[Health, ...] = (Health.HEALTHY,),
    lifecycle: Lifecycle = Lifecycle.ACTIVE,
) -> Generation:
    gid = f"g{number}"
    instances = tuple(
        Instance(id=f"{gid}-{i}", address=f"127.0.0.1:{41000 + i}", health=h)
        for i, h in enumerate(healths, start=1)
    )
    return Generation(
        id=gid,
        version=f"v{number}",
        state=derive_state(list(healths), weight, lifecycle),
        weight=weight,
        launched_at=T0,
        launched_by="alice",
        count=len(healths),
        instances=instances,
    )


def fleet(*generations: Generation) -> FleetSnapshot:
    return FleetSnapshot(
        fleet="web",
        backend="local",
        entry="127.0.0.1:8080",
        generations=tuple(generations),
        taken_at=T0,
    )
