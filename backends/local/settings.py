"""Settings of a fleet on the local backend (``backend = "local"``, the default)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends.config.health_settings import HealthSettings
from backends.config.templates import check
from backends.core.errors import ConfigError, shown

#: what a local ``start`` command may name
PLACEHOLDERS = ("port", "python")
#: the floor and ceiling of ``max_body_mib``
MAX_BODY_MIB = (1, 4096)


def split_address(listen: str, key: str = "listen") -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not _is_port(port):
        raise ConfigError(f"{key} must look like 127.0.0.1:8080, not {listen!r}")
    return host.strip("[]"), int(port)


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a directory; a name too long for the OS is not one."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """``listen``: the proxy's address; ``artifact``: the directory each generation
    freezes a copy of; ``start``: the command run in that copy, with ``{port}`` (and
    ``{python}``, the interpreter running Molt; a literal brace is written ``{{`` or
    ``}}``, see :mod:`backends.config.templates`); ``count``: instances per generation;
    ``drain_timeout``: seconds a retiring generation may finish in-flight requests;
    ``listen_fallback``: take a free port when ``listen`` is in use; ``max_body_mib``: the
largest request body the proxy passes on (bigger ones are answered 413)."""

    artifact: Path
    start: str
    listen: str = "127.0.0.1:8080"
    count: int = 2
    drain_timeout: float = 30.0
    listen_fallback: bool = False
    max_body_mib: int = 64
    health: HealthSettings = field(default_factory=HealthSettings)

    def __post_init__(self) -> None:
        split_address(self.listen)
        if not _is_dir(self.artifact):
            raise ConfigError(f"artifact {shown(str(self.artifact))} is not a directory")
        check(self.start, PLACEHOLDERS)
        if not 1 <= self.count <= 1000:
            raise ConfigError(f"count must be 1–1000, not {self.count}")
        if not math.isfinite(self.drain_timeout) or self.drain_timeout < 0:
            raise ConfigError(f"drain_timeout must be 0 seconds or more, not {self.drain_timeout}")
        if not MAX_BODY_MIB[0] <= self.max_body_mib <= MAX_BODY_MIB[1]:
            low, high = MAX_BODY_MIB
            raise ConfigError(f"max_body_mib must be {low}–{high}, not {self.max_body_mib}")


def settings_to_json(settings: LocalSettings) -> dict[str, Any]:
    """What the agent stores, so it can run the fleet after a restart on its own."""
    data = asdict(settings)
    data["artifact"] = str(settings.artifact)
    return data


def settings_from_json(data: dict[str, Any]) -> LocalSettings:
    return LocalSettings(
        **{**data, "artifact": Path(data["artifact"]), "health": HealthSettings(**data["health"])}
    )


def settings_differences(
    fleet: str, wanted: Mapping[str, Any], running: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """One line per setting molt.toml changed since the fleet took its settings, naming
    the command that applies them (a look never does)."""
    lines = []
    for key in sorted(set(wanted) | set(running)):
        new, old = wanted.get(key), running.get(key)
        if isinstance(new, Mapping) and isinstance(old, Mapping):
            lines += settings_differences(fleet, new, old, f"{prefix}{key}.")
        elif new != old:
            lines.append(
                f"molt.toml sets {prefix}{key} = {new!r}, the fleet runs with {old!r} "
                f"(`molt apply {fleet}` applies it)"
            )
    return lines
