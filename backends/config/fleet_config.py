"""Which fleets Molt knows: each one's name, backend and that backend's settings, as
molt.toml (or the built-in demo) describes them. Loading them is :mod:`backends.config.loading`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import platformdirs

from backends.config.notify_settings import NotifySettings
from backends.core.errors import ConfigError
from backends.core.rollout import Plan

#: the built-in demo's fleets (no molt.toml), each bootstrapping its own g1 on first use
DEMO_FLEETS = ("web", "api")
#: the demo fleet a command names when it names none
DEMO_FLEET = DEMO_FLEETS[0]


def default_state_dir() -> Path:
    """``MOLT_STATE_DIR``, else the user state dir (``~/.local/state/molt``)."""
    override = os.environ.get("MOLT_STATE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_state_dir("molt"))


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """One fleet: its name, its backend and that backend's settings."""

    name: str
    backend: str
    settings: Any
    source: str = "built-in"
    #: the built-in demo: launch this version as g1 on first use
    bootstrap_version: str | None = None
    #: ``[fleets.NAME.rollout]``: the fleet's rollout plan (None: Molt's default plan)
    rollout: Plan | None = None
    #: seconds between the TUI's own immutability checks of every generation
    verify_interval: float = 600.0
    #: generations older than this are due a rebuild (None: no limit)
    max_age: timedelta | None = None
    #: seconds a lock lasts unless its holder renews it: how long a Molt that stopped
    #: without dying (SIGSTOP, a laptop lid) keeps the fleet from everyone else
    lease_ttl: float = 60.0
    #: molt.toml's ``[notify]``: where this fleet's started sessions tell their news
    notify: NotifySettings | None = None


@dataclass(frozen=True, slots=True)
class MoltConfig:
    fleets: Mapping[str, FleetConfig]
    path: Path | None = None
    #: molt.toml's ``[notify]`` section (None: nobody is told)
    notify: NotifySettings | None = None
    state_dir: Path = field(default_factory=default_state_dir)

    def fleet(self, name: str | None) -> FleetConfig:
        """The named fleet, or the only/first one when no name is given."""
        if name is None:
            return next(iter(self.fleets.values()))
        try:
            return self.fleets[name]
        except KeyError:
            known = ", ".join(self.fleets) or "none"
            where = f"in {self.path}" if self.path else "(no molt.toml: only the demo fleets)"
            raise ConfigError(f"unknown fleet {name!r} {where}; known fleets: {known}") from None
