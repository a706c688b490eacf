"""How Auto Scaling's lifecycle and the ALB's target health become Molt's health."""

from __future__ import annotations

import pytest

from backends.aws.health import TargetState, instance_health
from backends.core.model import Health

MISMATCH = TargetState("unhealthy", "Target.ResponseCodeMismatch",
                       "Health checks failed with these codes: [500]")


@pytest.mark.parametrize(
    ("lifecycle", "asg_health", "target", "registered", "expected"),
    [
        ("InService", "Healthy", TargetState("healthy"), True, Health.HEALTHY),
        ("InService", "Healthy", TargetState("initial", "Elb.InitialHealthChecking"), True,
         Health.PENDING),
        ("InService", "Healthy", MISMATCH, True, Health.UNHEALTHY),
        ("InService", "Healthy", TargetState("draining", "Target.DeregistrationInProgress"), True,
         Health.GONE),
        ("InService", "Healthy", TargetState("unused", "Target.InvalidState"), True, Health.GONE),
        ("InService", "Healthy", None, True, Health.PENDING),
        ("InService", "Healthy", None, False, Health.PENDING),
        ("Pending", "Healthy", TargetState("healthy"), True, Health.PENDING),
        ("InService", "Unhealthy", TargetState("healthy"), True, Health.UNHEALTHY),
        ("Terminating:Wait", "Unhealthy", TargetState("healthy"), True, Health.GONE),
    ],
)
def test_lifecycle_and_target_health_map_onto_molt_health(
    lifecycle, asg_health, target, registered, expected
):
    assert instance_health(lifecycle, asg_health, target, registered)[0] is expected


def test_an_unhealthy_target_says_why():
    _, last_check = instance_health("InService", "Healthy", MISMATCH, True)
    assert last_check == (
        "Target.ResponseCodeMismatch — Health checks failed with these codes: [500]"
    )
