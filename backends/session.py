"""What happens when Molt opens a fleet, for the TUI and the CLI alike."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Callable
from pathlib import Path

from backends.base import Backend
from backends.config import FleetConfig
from backends.model import GenerationSpec
from backends.operations import Operations, wait_settled

BOOTSTRAP_TIMEOUT = 60.0


def _ignore(_: str) -> None:
    pass


async def prepare_fleet(
    fleet: FleetConfig,
    backend: Backend,
    ops: Operations,
    *,
    state_dir: Path,
    progress: Callable[[str], None] = _ignore,
) -> None:
    """The built-in demo fleet launches and promotes its first generation on first use,
    so a newcomer sees a live fleet at once. Once anything was done to the fleet (even
    retiring everything), it is left as the operator made it."""
    if fleet.bootstrap_version is None or ops.read_only:
        return
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (state_dir / "bootstrap.lock").open("w") as lock:
        # two Molts started at once on a fresh state dir must not both launch g1
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        if (await backend.snapshot(fleet.name)).generations:
            return
        if await backend.journal.records(fleet.name):
            return
        version = fleet.bootstrap_version
        progress(f"starting the {fleet.name} fleet: launching its first generation ({version})…")
        spec = GenerationSpec(version=version, note="built-in demo: first generation")
        generation = await ops.launch(fleet.name, spec)
        await wait_settled(backend, fleet.name, generation.id, timeout=BOOTSTRAP_TIMEOUT)
        await ops.promote(fleet.name, generation.id)
