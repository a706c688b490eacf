"""The built-in fleet a newcomer sees: the packaged demo app on the local backend."""

from __future__ import annotations

from pathlib import Path

from backends.config.fleet_config import DEMO_FLEET, FleetConfig
from backends.config.health_settings import HealthSettings
from backends.local.settings import LocalSettings


def demo_artifact() -> Path:
    """The packaged demo app, the artifact of the built-in ``demo`` fleet."""
    return Path(__file__).resolve().parent / "demo_app"


def demo_fleet() -> FleetConfig:
    """``demo`` on 127.0.0.1:8080 (a free port when that is taken), g1 = v1 on first use."""
    settings = LocalSettings(
        listen="127.0.0.1:8080",
        artifact=demo_artifact(),
        start="{python} app.py --port {port}",
        count=2,
        listen_fallback=True,
        # the demo app listens within a second: a version ending -bad fails soon after
        health=HealthSettings(start_period=5.0),
    )
    return FleetConfig(name=DEMO_FLEET, backend="local", settings=settings, bootstrap_version="v1")
