"""Immutability of a local fleet: what each generation was launched from (the manifest
frozen with its tree), what the journal proves about its launch, and the drift between
those and the tree as it is now."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from backends.core.manifest import MANIFEST_NAME
from backends.core.model import DriftReport
from backends.local.parts import FleetParts
from backends.local.trees import tree_drift


async def frozen(fleet: FleetParts, generation_id: str) -> dict[str, Any]:
    """The manifest written when the generation's tree was frozen (kept in its home
    while the generation lives)."""
    fleet.generation(generation_id)
    path = fleet.home / generation_id / MANIFEST_NAME
    text = await asyncio.to_thread(path.read_text) if path.exists() else "null"
    return {"manifest": json.loads(text)}


async def verify(fleet: FleetParts, generation_id: str) -> DriftReport:
    generation = fleet.generation(generation_id)  # NotFound: unknown or retired
    proof = await fleet.launches.proof(generation_id)
    drift = await asyncio.to_thread(
        tree_drift,
        fleet.home / generation_id,
        proof.journaled,
        generation.row.digest,
        doubtful=proof.doubtful,
    )
    return DriftReport(
        fleet=fleet.name,
        generation=generation_id,
        checked=("local",),
        drift=tuple(drift),
    )
