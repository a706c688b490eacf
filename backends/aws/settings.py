"""Settings of a fleet on AWS (``backend = "aws"``): where the fleet lives, what each
generation's instances look like, how the ALB judges their health.

```toml
[fleets.web]
backend = "aws"
region = "eu-west-1"
listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/…/…"
vpc_id = "vpc-0abc"
subnets = ["subnet-0aaa", "subnet-0bbb"]
security_groups = ["sg-0ccc"]
instance_type = "t3.small"
count = 3
port = 8080
[fleets.web.health]
path = "/healthz"
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from backends.config.health_settings import URL_PATH
from backends.core.errors import ConfigError, shown

#: an ALB forward action holds at most this many weighted target groups
MAX_FORWARD_TARGET_GROUPS = 5
USER_DATA_MAX_BYTES = 16 * 1024


def _seconds(key: str, value: float) -> None:
    """A duration must be a finite number of seconds above 0 (``nan`` and ``inf`` are not)."""
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{key} must be more than 0 seconds, not {value}")


def _check_user_data(path: Path) -> None:
    """A file of at most 16 KB (a name too long for the OS is no file)."""
    try:
        size = path.stat().st_size if path.is_file() else None
    except (OSError, ValueError):
        size = None
    if size is None:
        raise ConfigError(f"user_data {shown(str(path))} is not a file")
    if size > USER_DATA_MAX_BYTES:
        raise ConfigError(f"user_data {shown(str(path))} is larger than 16 KB")


@dataclass(frozen=True, slots=True)
class TargetHealthCheck:
    """The target group's health check (``[fleets.NAME.health]``), in ALB's own terms:
    whole seconds and thresholds of 2–10 consecutive checks. ``grace_period``: seconds
    Auto Scaling waits after an instance starts before acting on its ELB health."""

    path: str = "/healthz"
    interval: int = 10
    timeout: int = 5
    healthy_threshold: int = 3
    unhealthy_threshold: int = 2
    matcher: str = "200-399"
    grace_period: int = 300

    def __post_init__(self) -> None:
        if not URL_PATH.fullmatch(self.path):
            raise ConfigError(
                f"health.path must be a URL path like /healthz (no spaces or control "
                f"characters), not {self.path!r}"
            )
        if not 5 <= self.interval <= 300:
            raise ConfigError(f"health.interval must be 5–300 seconds, not {self.interval}")
        if not 2 <= self.timeout < self.interval:
            raise ConfigError(
                f"health.timeout must be 2 seconds or more and less than health.interval, "
                f"not {self.timeout}"
            )
        for name in ("healthy_threshold", "unhealthy_threshold"):
            if not 2 <= getattr(self, name) <= 10:
                raise ConfigError(f"health.{name} must be 2–10, not {getattr(self, name)}")
        if not math.isfinite(self.grace_period) or self.grace_period < 0:
            raise ConfigError(
                f"health.grace_period must be 0 seconds or more, not {self.grace_period}"
            )


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """botocore's ``standard`` retry mode (``[fleets.NAME.retry]``): throttling and
    transient errors are retried with back-off up to ``max_attempts`` calls in all."""

    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 20:
            raise ConfigError(f"retry.max_attempts must be 1–20, not {self.max_attempts}")
        for name in ("connect_timeout", "read_timeout"):
            _seconds(f"retry.{name}", getattr(self, name))


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """One fleet behind one ALB listener whose default action Molt owns.

    ``region``, ``profile`` (else boto3's standard credential chain) and
    ``endpoint_url`` (moto or LocalStack) say where AWS is. ``listener_arn``, ``vpc_id``,
    ``subnets`` and ``security_groups`` place the fleet. ``image`` is the default AMI
    (``molt launch --image`` overrides it); ``instance_type``, ``key_name``,
    ``instance_profile`` (a name or an ARN) and ``user_data`` (a file) shape each
    generation's launch template version. ``count``: instances per generation.
    ``port``, ``protocol``, ``health`` and ``deregistration_delay`` shape each
    generation's target group. ``logs_group``: a CloudWatch Logs group holding the
    instances' output (one stream per instance id; else ``molt logs`` reads the EC2
    console output). ``poll_interval``: seconds between refreshes while
    watching. ``retire_timeout``: how long a retire waits for AWS to delete the
    generation's Auto Scaling group.
    """

    region: str
    listener_arn: str
    vpc_id: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()
    instance_type: str = "t3.micro"
    image: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    key_name: str | None = None
    instance_profile: str | None = None
    user_data: Path | None = None
    count: int = 2
    port: int = 80
    protocol: str = "HTTP"
    deregistration_delay: int = 30
    poll_interval: float = 5.0
    logs_group: str | None = None
    retire_timeout: float = 600.0
    health: TargetHealthCheck = field(default_factory=TargetHealthCheck)
    retry: RetrySettings = field(default_factory=RetrySettings)

    def __post_init__(self) -> None:
        if not self.region.strip():
            raise ConfigError("region must name an AWS region, e.g. eu-west-1")
        if not self.listener_arn.startswith("arn:") or ":listener/" not in self.listener_arn:
            raise ConfigError(
                f"listener_arn must be an ALB listener ARN (arn:aws:elasticloadbalancing:…"
                f":listener/app/…), not {self.listener_arn!r}"
            )
        if not self.subnets:
            raise ConfigError("subnets must name at least one subnet, e.g. ['subnet-0abc']")
        if not 1 <= self.count <= 1000:
            raise ConfigError(f"count must be 1–1000, not {self.count}")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"port must be 1–65535, not {self.port}")
        if self.protocol not in ("HTTP", "HTTPS"):
            raise ConfigError(f"protocol must be HTTP or HTTPS, not {self.protocol!r}")
        if not 0 <= self.deregistration_delay <= 3600:
            raise ConfigError(
                f"deregistration_delay must be 0–3600 seconds, not {self.deregistration_delay}"
            )
        _seconds("poll_interval", self.poll_interval)
        _seconds("retire_timeout", self.retire_timeout)
        if self.user_data is not None:
            _check_user_data(self.user_data)

    @property
    def entry(self) -> str:
        """Where the fleet's traffic enters, read from the listener ARN without a call:
        ``app/NAME/LB-ID/LISTENER-ID``."""
        return self.listener_arn.partition(":listener/")[2]
