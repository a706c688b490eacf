"""An instance's health from what HAProxy's checks say and whether its process runs.

HAProxy judges health with its own thresholds (``rise``/``fall``); Molt maps its
server status onto :class:`backends.core.model.Health` and overrides it when the host says
the process is gone (HAProxy would notice only after ``fall`` failed checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from backends.core.errors import BackendError
from backends.core.model import Health, Instance, utcnow
from backends.ssh.haproxy import ServerStat
from backends.ssh.remote import Liveness
from backends.ssh.state import GenerationRecord, InstanceRecord

#: check results that mean the instance answered as it should
PASSING = {"L4OK", "L6OK", "L7OK", "L7OKC"}


@dataclass(frozen=True, slots=True)
class HostView:
    """One host's answer to a sweep: its instances' processes, or why it did not answer."""

    liveness: dict[str, Liveness]
    failure: BackendError | None = None


def describe_check(stat: ServerStat) -> str:
    """``L7OK 200 in 2 ms``, ``L7STS 500 (Internal Server Error)``, ``L4CON``..."""
    words = [stat.check_status or "no check"]
    if stat.check_code:
        words.append(stat.check_code)
    if stat.check_ms is not None and stat.check_status in PASSING:
        words.append(f"in {stat.check_ms:.0f} ms")
    text = " ".join(words)
    if stat.check_desc and stat.check_status not in PASSING:
        text += f" ({stat.check_desc})"
    return f"HAProxy {stat.status}: {text}"


def judge(
    record: InstanceRecord,
    stat: ServerStat | None,
    host: HostView | None,
    generation: GenerationRecord,
) -> tuple[Health, str]:
    """(health, what the operator reads about it)."""
    if record.error:
        return Health.UNHEALTHY, record.error
    alive = host.liveness.get(record.id) if host is not None and host.failure is None else None
    if host is not None and host.failure is None and (alive is None or not alive.running):
        if alive is None and generation.lifecycle == "launching":
            return Health.PENDING, "starting"
        return Health.UNHEALTHY, "process not running"
    unreachable = f"; host unreachable: {host.failure.message}" if host and host.failure else ""
    if stat is None:
        return Health.PENDING, "not in HAProxy (yet)" + unreachable
    status = stat.status.upper()
    if stat.check_status in ("", "INI") or status.startswith("MAINT"):
        return Health.PENDING, describe_check(stat) + unreachable
    if status.startswith(("UP", "DRAIN", "NOLB")):
        return Health.HEALTHY, describe_check(stat) + unreachable
    return Health.UNHEALTHY, describe_check(stat) + unreachable


def instance_model(
    record: InstanceRecord,
    stat: ServerStat | None,
    host: HostView | None,
    generation: GenerationRecord,
    host_label: str,
) -> Instance:
    health, text = judge(record, stat, host, generation)
    alive = host.liveness.get(record.id) if host is not None else None
    since = None
    if health is Health.HEALTHY and stat is not None and stat.since_change is not None:
        since = utcnow() - timedelta(seconds=stat.since_change)
    extra = {"server": record.id}
    if host is not None and host.failure is not None:
        extra["host_state"] = f"unreachable: {host.failure.message}"
    return Instance(
        id=record.id,
        address=record.endpoint,
        health=health,
        pid=alive.pid if alive is not None else None,
        host=host_label,
        last_check=text,
        latency_ms=stat.check_ms if stat is not None and health is Health.HEALTHY else None,
        healthy_since=since,
        extra=extra,
    )
