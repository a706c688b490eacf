"""The built-in demo's first steps: on first use each demo fleet launches and promotes
its first generation, so a newcomer sees live fleets at once. Once anything was done to
a fleet (even retiring everything), it is left as the operator made it. Each fleet has
a lock of its own, so the demo's fleets start side by side, not one after the other."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from backends.config.fleet_config import FleetConfig
from backends.core.model import GenerationSpec
from backends.engine.runner import wait_settled

if TYPE_CHECKING:
    from backends.engine.rollout_steps import OpenFleet

BOOTSTRAP_TIMEOUT = 60.0


async def prepare(
    fleet: OpenFleet,
    config: FleetConfig,
    state_dir: Path,
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    """Launch and promote the demo fleet's first generation if the fleet is new (no
    generation, no journal); a fleet with no ``bootstrap_version``, or a read-only
    session, is left alone. Under the fleet's own file lock in ``state_dir``."""
    if config.bootstrap_version is None or fleet.backend.read_only:
        return
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (state_dir / f"bootstrap-{config.name}.lock").open("w") as lock:
        # two Molts started at once on a fresh state dir must not both launch g1
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if (await fleet.backend.snapshot()).generations:
            return
        if await fleet.backend.journal.records(config.name):
            return
        version = config.bootstrap_version
        progress(f"starting the {config.name} fleet: launching its first generation {version}…")
        spec = GenerationSpec(version=version, note="built-in demo: first generation")
        generation = await fleet.ops.launch(spec)
        await wait_settled(fleet, generation.id, timeout=BOOTSTRAP_TIMEOUT)
        await fleet.ops.promote(generation.id)
