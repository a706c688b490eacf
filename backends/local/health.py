"""Health of a local fleet's instances: each checked over HTTP by its own task and
judged by thresholds; a supervisor restarts instances whose process died (with a
growing back-off) and keeps their logs under their size cap."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from backends.core.errors import OperationFailed
from backends.core.events import HealthChanged, InstanceRestarted
from backends.core.model import Health, Lifecycle, iso, utcnow
from backends.local import checks, logs, processes
from backends.local.instances import start_instance
from backends.local.members import GenerationRuntime, InstanceRuntime
from backends.local.parts import FleetParts
from backends.local.traffic import reroute

RESTART_BACKOFF_MAX = 30.0
SUPERVISE_EVERY = 0.5


def start_checks(fleet: FleetParts, instance: InstanceRuntime) -> None:
    instance.task = asyncio.ensure_future(_check_forever(fleet, instance))


async def _check_forever(fleet: FleetParts, instance: InstanceRuntime) -> None:
    health = fleet.settings.health
    url = f"http://127.0.0.1:{instance.port}{health.path}"
    loop = asyncio.get_running_loop()
    assert fleet.session is not None
    while True:
        started = loop.time()
        result = await checks.probe(fleet.session, url, health.path, health.timeout)
        _observe(fleet, instance, result)
        await checks.sleep_until_next(started, health.interval)


def _observe(fleet: FleetParts, instance: InstanceRuntime, result: checks.CheckResult) -> None:
    if instance.exited:
        return  # its process is gone: the supervisor said so and restarts it
    instance.last_check, instance.latency_ms = result.text, result.latency_ms
    left = instance.judge.starting()
    if instance.crashed and not instance.judge.passed_once:
        instance.last_check = f"{instance.crashed}; restarted, {result.text}"
    elif not result.passed and left > 0:
        instance.last_check = f"{result.text} (starting: {left:.0f} s of its start period left)"
    before = instance.judge.health
    after = instance.judge.observe(result.passed)
    if after is not None:
        check = checks.describe_check(after, result, instance.judge)
        _health_changed(fleet, instance, before, after, check)


def _health_changed(
    fleet: FleetParts, instance: InstanceRuntime, before: Health, after: Health, check: str
) -> None:
    instance.healthy_since = utcnow() if after is Health.HEALTHY else None
    fleet.store.set_health(fleet.name, instance.id, after.value, iso(instance.healthy_since))
    reroute(fleet)
    fleet.publish(
        HealthChanged(
            fleet=fleet.name,
            generation_id=instance.generation,
            instance_id=instance.id,
            before=before,
            after=after,
            check=check,
        )
    )


async def supervise(fleet: FleetParts) -> None:
    """Restart instances whose process died, with a growing back-off; keep their
    logs under their size cap."""
    loop = asyncio.get_running_loop()
    rounds = 0
    while True:
        await asyncio.sleep(SUPERVISE_EVERY)
        rounds += 1
        if rounds % 20 == 0:
            await asyncio.to_thread(_cap_logs, fleet)
        for generation in list(fleet.generations.values()):
            if generation.lifecycle is not Lifecycle.ACTIVE:
                continue
            for instance in list(generation.instances.values()):
                if instance.process.alive():
                    continue
                if not instance.exited:
                    await processes.writer_done(instance.process)
                    if generation.lifecycle is not Lifecycle.ACTIVE or instance.exited:
                        continue
                    _exited(fleet, instance)
                if loop.time() >= instance.restart_at:
                    _restart(fleet, generation, instance, loop.time())


def _cap_logs(fleet: FleetParts) -> None:
    for generation in list(fleet.generations.values()):
        for instance_id in list(generation.instances):
            logs.cap(fleet.log(instance_id))


def _exited(fleet: FleetParts, instance: InstanceRuntime) -> None:
    """Its process is gone: unhealthy at once, with the exit status and the last
    line it printed (a start period is for slow starters, not for crashes)."""
    instance.exited = True
    last = processes.last_line(fleet.log(instance.id))
    instance.last_check = f"process {_how(instance)}" + (f": {last}" if last else "")
    instance.crashed = instance.last_check
    before = instance.judge.health
    if instance.judge.failed_now() is not None:
        _health_changed(fleet, instance, before, Health.UNHEALTHY, instance.last_check)


def _restart(
    fleet: FleetParts, generation: GenerationRuntime, instance: InstanceRuntime, now: float
) -> None:
    how = _how(instance)
    instance.restarts += 1
    instance.restart_at = now + min(RESTART_BACKOFF_MAX, 2.0**instance.restarts)
    restarted = InstanceRestarted(
        fleet=fleet.name, generation_id=generation.row.id, instance_id=instance.id, how=how
    )
    try:
        fresh = start_instance(fleet, generation, instance.id)
    except OperationFailed as error:
        fleet.publish(replace(restarted, problem=error.message))
        return
    start_checks(fleet, fresh)
    reroute(fleet)
    fleet.publish(replace(restarted, pid=fresh.process.pid))


def _how(instance: InstanceRuntime) -> str:
    code = instance.process.exit_code()
    if code is None:
        return "is no longer running"
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with code {code}"
