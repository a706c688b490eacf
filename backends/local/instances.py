"""One local instance's process: started from the fleet's ``start`` command in its
generation's frozen tree, on a port of its own, and saved in the store so a restarted
agent adopts it."""

from __future__ import annotations

import shlex

from backends.config.templates import render
from backends.core.model import Health, iso
from backends.local import checks, processes
from backends.local.members import GenerationRuntime, InstanceRuntime
from backends.local.parts import FleetParts
from backends.local.store import InstanceRow


def new_judge(fleet: FleetParts, previous: InstanceRuntime | None = None) -> checks.HealthJudge:
    """A fresh judge, in its start period; an instance restarted after its process
    exited stays unhealthy until it passes its checks again."""
    health = fleet.settings.health
    judge = checks.HealthJudge(
        health.healthy_threshold, health.unhealthy_threshold, health.start_period
    )
    if previous is not None and previous.judge.health is Health.UNHEALTHY:
        judge.health = Health.UNHEALTHY
    return judge


def start_instance(
    fleet: FleetParts, generation: GenerationRuntime, instance_id: str
) -> InstanceRuntime:
    """Start (or start again) one instance of ``generation``; the caller starts its
    health checks.

    Raises:
        OperationFailed: the start command could not run.
    """
    port = processes.free_port()
    command = render(fleet.settings.start, port=port, python=shlex.quote(processes.python()))
    process = processes.spawn(
        shlex.split(command),
        cwd=generation.tree,
        env={
            "MOLT_FLEET": fleet.name,
            "MOLT_GENERATION": generation.row.id,
            "MOLT_INSTANCE": instance_id,
            "MOLT_VERSION": generation.row.version,
            "PORT": str(port),
        },
        log=fleet.log(instance_id),
        marks=processes.marks(fleet.home, fleet.name, instance_id),
    )
    previous = generation.instances.get(instance_id)
    instance = InstanceRuntime(
        id=instance_id,
        generation=generation.row.id,
        port=port,
        process=process,
        judge=new_judge(fleet, previous),
    )
    if previous is not None:
        instance.restarts, instance.restart_at = previous.restarts, previous.restart_at
        instance.crashed = previous.crashed
        instance.last_check = previous.last_check
        if previous.task is not None:
            previous.task.cancel()
    generation.instances[instance_id] = instance
    save_instance(fleet, instance)
    return instance


def save_instance(fleet: FleetParts, instance: InstanceRuntime) -> None:
    fleet.store.save_instance(
        InstanceRow(
            fleet=fleet.name,
            generation=instance.generation,
            id=instance.id,
            port=instance.port,
            pid=instance.process.pid,
            started=instance.process.started,
            health=instance.judge.health.value,
            healthy_since=iso(instance.healthy_since),
        )
    )
