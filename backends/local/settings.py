"""Settings of a fleet on the local backend (``backend = "local"``, the default)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends.errors import ConfigError
from backends.health import HealthSettings


def split_address(listen: str, key: str = "listen") -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key} must look like 127.0.0.1:8080, not {listen!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """``listen``: the proxy's address; ``artifact``: the directory each generation
    freezes a copy of; ``start``: the command run in that copy, with ``{port}`` (and
    ``{python}``, the interpreter running Molt); ``count``: instances per generation;
    ``drain_timeout``: seconds a retiring generation may finish in-flight requests;
    ``listen_fallback``: take a free port when ``listen`` is in use."""

    artifact: Path
    start: str
    listen: str = "127.0.0.1:8080"
    count: int = 2
    drain_timeout: float = 30.0
    listen_fallback: bool = False
    health: HealthSettings = field(default_factory=HealthSettings)

    def __post_init__(self) -> None:
        split_address(self.listen)
        if not self.artifact.is_dir():
            raise ConfigError(f"artifact {self.artifact} is not a directory")
        if "{port}" not in self.start:
            raise ConfigError("start must contain {port}, where the instance listens")
        if not 1 <= self.count <= 1000:
            raise ConfigError(f"count must be 1–1000, not {self.count}")
        if self.drain_timeout < 0:
            raise ConfigError("drain_timeout must be 0 seconds or more")


def settings_to_json(settings: LocalSettings) -> dict[str, Any]:
    """What the agent stores, so it can run the fleet after a restart on its own."""
    data = asdict(settings)
    data["artifact"] = str(settings.artifact)
    return data


def settings_from_json(data: dict[str, Any]) -> LocalSettings:
    return LocalSettings(
        **{**data, "artifact": Path(data["artifact"]), "health": HealthSettings(**data["health"])}
    )
