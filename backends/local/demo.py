"""The built-in fleets a newcomer sees: the packaged demo app on the local backend, twice
(``web`` and ``api``), so the estate — every fleet at once — is what opens first."""

from __future__ import annotations

from pathlib import Path

from backends.config.fleet_config import DEMO_FLEETS, FleetConfig
from backends.config.health_settings import HealthSettings
from backends.local.settings import LocalSettings

#: where each demo fleet's proxy listens first (a free port when that one is taken)
DEMO_PORTS = {"web": 8080, "api": 8081}


def demo_artifact() -> Path:
    """The packaged demo app, the artifact of the built-in demo fleets."""
    return Path(__file__).resolve().parent / "demo_app"


def demo_fleet(name: str = DEMO_FLEETS[0]) -> FleetConfig:
    """The demo fleet ``name`` (``web`` on 127.0.0.1:8080, ``api`` on 127.0.0.1:8081; a
    free port when that is taken), g1 = v1 on first use."""
    settings = LocalSettings(
        listen=f"127.0.0.1:{DEMO_PORTS.get(name, 8080)}",
        artifact=demo_artifact(),
        start="{python} app.py --port {port}",
        count=2,
        listen_fallback=True,
        # the demo app listens within a second: a version ending -bad fails soon after
        health=HealthSettings(start_period=5.0),
    )
    return FleetConfig(name=name, backend="local", settings=settings, bootstrap_version="v1")


def demo_fleets() -> list[FleetConfig]:
    """Every built-in demo fleet, ``web`` first."""
    return [demo_fleet(name) for name in DEMO_FLEETS]
