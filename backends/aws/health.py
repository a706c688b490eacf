"""Instance health on AWS: the ALB's target health, read through one small seam, and
Auto Scaling's lifecycle, mapped onto :class:`backends.core.model.Health`.

The seam is :class:`TargetHealthSource`: the driver reads every target group's health
through ``AwsBackend.target_health`` (by default :func:`describe_target_health`, one
``DescribeTargetHealth`` call per target group). moto reports every registered target
``healthy`` at once and never deregisters terminated instances, so tests substitute a
source that makes the same call and then overrides states by script — that is how the
contract suite sees ``initial`` and ``unhealthy`` targets. Nothing else differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from backends.core.model import Health


@dataclass(frozen=True, slots=True)
class TargetState:
    """One target's health as the ALB reports it: ``initial``, ``healthy``,
    ``unhealthy``, ``unused``, ``draining`` or ``unavailable``."""

    state: str
    reason: str = ""
    description: str = ""

    def text(self) -> str:
        """``Target.ResponseCodeMismatch — Health checks failed with these codes: [500]``:
        what the TUI shows as the last check (nothing for a healthy target)."""
        return " — ".join(part for part in (self.reason, self.description) if part)


class TargetHealthSource(Protocol):
    """Reads one target group's target health (blocking; the driver runs it in a
    thread). ``version`` is the generation's version label, for scripted test sources."""

    def __call__(
        self, elbv2: Any, target_group_arn: str, version: str
    ) -> Mapping[str, TargetState]: ...


def describe_target_health(
    elbv2: Any, target_group_arn: str, version: str
) -> dict[str, TargetState]:
    """The production source: one ``DescribeTargetHealth`` call, instance id → state."""
    response = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    return parse_target_health(response)


def parse_target_health(response: Mapping[str, Any]) -> dict[str, TargetState]:
    states: dict[str, TargetState] = {}
    for description in response.get("TargetHealthDescriptions", []):
        health = description.get("TargetHealth", {})
        states[str(description["Target"]["Id"])] = TargetState(
            state=str(health.get("State", "unavailable")),
            reason=str(health.get("Reason", "")),
            description=str(health.get("Description", "")),
        )
    return states


_GONE_LIFECYCLES = ("Terminating", "Terminated", "Detaching", "Detached", "Standby", "Warmed")
_TARGET_HEALTH = {
    "healthy": Health.HEALTHY,
    "unhealthy": Health.UNHEALTHY,
    "initial": Health.PENDING,
    "unused": Health.PENDING,
    "unavailable": Health.PENDING,
    "draining": Health.GONE,
}


def instance_health(
    lifecycle: str, asg_health: str, target: TargetState | None, registered: bool
) -> tuple[Health, str]:
    """(health, last check text) of one Auto Scaling instance.

    ``registered``: whether the generation's target group is attached yet. An instance
    Auto Scaling is terminating or has set aside is gone, whatever its target says; one
    Auto Scaling judged unhealthy is unhealthy (it is about to be replaced); otherwise
    the ALB's verdict decides, and no verdict yet means pending.
    """
    if lifecycle.startswith(_GONE_LIFECYCLES):
        return Health.GONE, lifecycle
    if asg_health == "Unhealthy":
        return Health.UNHEALTHY, "Auto Scaling marked it unhealthy"
    if lifecycle.startswith("Pending"):
        return Health.PENDING, lifecycle
    if not registered:
        return Health.PENDING, "target group not attached yet"
    if target is None:
        return Health.PENDING, "not registered with the target group yet"
    if target.reason == "Target.InvalidState":  # stopped or terminated under the ALB
        return Health.GONE, target.text()
    return _TARGET_HEALTH.get(target.state, Health.PENDING), target.text()
