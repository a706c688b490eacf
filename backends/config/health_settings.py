"""How an instance's health is judged by Molt's own checks (local) and HAProxy's (ssh):
``[fleets.NAME.health]`` in molt.toml."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from backends.core.errors import ConfigError

#: what an HTTP request line (and HAProxy's ``option httpchk``) can carry as a path
URL_PATH = re.compile(r"/[\x21-\x7e]*")


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """HTTP GET ``path`` must answer 2xx/3xx within ``timeout`` seconds, every
    ``interval`` seconds; ``healthy_threshold`` passes in a row make an instance healthy,
    ``unhealthy_threshold`` failures in a row unhealthy. ``start_period``: seconds after
    an instance starts during which failed checks do not count until its first pass
    (JVMs, Rails and Django take a while before they listen); an instance whose process
    exits fails at once whatever the start period."""

    path: str = "/healthz"
    interval: float = 1.0
    timeout: float = 1.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    start_period: float = 60.0

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ConfigError(f"health.path must start with '/', not {self.path!r}")
        if not URL_PATH.fullmatch(self.path):
            raise ConfigError(
                f"health.path must be a URL path without spaces or control characters "
                f"(e.g. /healthz), not {self.path!r}"
            )
        for name in ("interval", "timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"health.{name} must be a number of seconds above 0, not {value}")
        if not math.isfinite(self.start_period) or self.start_period < 0:
            raise ConfigError(
                f"health.start_period must be 0 seconds or more, not {self.start_period}"
            )
        for name in ("healthy_threshold", "unhealthy_threshold"):
            if getattr(self, name) < 1:
                raise ConfigError(f"health.{name} must be at least 1")
