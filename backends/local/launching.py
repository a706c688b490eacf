"""Launching a local generation: recorded ``launching``, its artifact frozen into a tree
of its own, its instances started, then marked ``active``. An agent killed at any step
finishes the launch when it starts again; a start command that cannot run at all
leaves nothing behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backends.core.errors import BackendError, NotFound, OperationFailed
from backends.core.events import launched
from backends.core.manifest import check_links
from backends.core.model import Generation, GenerationSpec, Lifecycle, iso, utcnow
from backends.local import processes
from backends.local.health import start_checks
from backends.local.instances import start_instance
from backends.local.members import GenerationRuntime
from backends.local.parts import FleetParts
from backends.local.processes import STOP_GRACE
from backends.local.retiring import destroy
from backends.local.store import GenerationRow
from backends.local.trees import freeze, remove_tree


async def launch(
    fleet: FleetParts, spec: GenerationSpec, resume: str | None = None
) -> Generation:
    """Record the generation ``launching``, freeze its tree, start its instances,
    then mark it ``active``. ``resume`` names a generation left launching, to finish
    (or join) its launch."""
    if resume is not None:
        generation = fleet.generation(resume)
        if generation.lifecycle is Lifecycle.LAUNCHING:
            await asyncio.shield(launch_task(fleet, generation))
        return generation.to_model()
    artifact = Path(spec.artifact) if spec.artifact else fleet.settings.artifact
    if not artifact.is_dir():
        raise NotFound(f"artifact {artifact} is not a directory")
    await asyncio.to_thread(check_links, artifact)  # refused before anything is made
    count = spec.count or fleet.settings.count
    number = fleet.store.take_generation_number(fleet.name)
    generation_id = f"g{number}"
    row = GenerationRow(
        fleet=fleet.name,
        id=generation_id,
        number=number,
        version=spec.version,
        count=count,
        note=spec.note,
        launched_at=iso(utcnow()) or "",
        launched_by=spec.launched_by,
        artifact=str(artifact),
        digest="",
        weight=0,
        lifecycle=Lifecycle.LAUNCHING.value,
    )
    generation = GenerationRuntime(row=row, tree=fleet.home / generation_id / "tree")
    async with fleet.lock:
        fleet.store.add_generation(row)
        fleet.generations[generation_id] = generation
    fleet.publish(
        launched(fleet.name, generation_id, spec.version, count, spec.note, spec.launched_by)
    )
    await asyncio.shield(launch_task(fleet, generation))  # Molt leaving must not stop it
    return generation.to_model()


def launch_task(fleet: FleetParts, generation: GenerationRuntime) -> asyncio.Task[None]:
    """The launch of a ``launching`` generation, started once and joined by every caller."""
    task = fleet.launching.get(generation.row.id)
    if task is None:
        task = asyncio.ensure_future(_finish_launch(fleet, generation))
        fleet.launching[generation.row.id] = task
        fleet.tasks.add(task)
        task.add_done_callback(fleet.tasks.discard)
        task.add_done_callback(lambda _: fleet.launching.pop(generation.row.id, None))
    return task


async def _finish_launch(fleet: FleetParts, generation: GenerationRuntime) -> None:
    home = fleet.home / generation.row.id
    if not generation.row.digest:
        await asyncio.to_thread(remove_tree, home)  # a copy cut short is not trusted
        try:
            digest = await asyncio.to_thread(freeze, Path(generation.row.artifact), home)
        except (OSError, BackendError) as error:
            await destroy(fleet, generation, reason=f"cannot copy its artifact: {error}")
            if isinstance(error, BackendError):
                raise
            raise OperationFailed(
                f"cannot copy artifact {generation.row.artifact}: {error}"
            ) from error
        generation.row.digest = digest
        fleet.store.set_digest(fleet.name, generation.row.id, digest)
    async with fleet.lock:
        try:
            for index in range(1, generation.row.count + 1):
                instance_id = f"{generation.row.id}-{index}"
                if instance_id not in generation.instances:
                    stray = processes.strays(processes.marks(fleet.home, fleet.name, instance_id))
                    await asyncio.to_thread(processes.stop, stray, STOP_GRACE)
                    start_checks(fleet, start_instance(fleet, generation, instance_id))
        except OperationFailed as error:
            await destroy(fleet, generation, reason=f"its start command failed: {error}")
            raise
        generation.row.lifecycle = Lifecycle.ACTIVE.value
        fleet.store.set_lifecycle(fleet.name, generation.row.id, generation.row.lifecycle)
