"""Which driver serves a fleet. Drivers are imported only when a fleet uses them,
so the local backend never pays for boto3 or asyncssh."""

from __future__ import annotations

import importlib
from pathlib import Path

from backends.base import Backend
from backends.config import FleetConfig
from backends.errors import ConfigError

#: backend name → "module:Class"; every class takes (fleet: FleetConfig, state_dir: Path)
BACKENDS = {
    "local": "backends.local.client:LocalBackend",
    "aws": "backends.aws.driver:AwsBackend",
    "ssh": "backends.ssh.driver:SshBackend",
}


def open_backend(fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> Backend:
    """A connected-on-demand driver for ``fleet``; ``read_only`` forbids it any repair."""
    module_name, _, class_name = BACKENDS[fleet.backend].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"the {fleet.backend} backend is not available: {error}") from error
    backend: Backend = getattr(module, class_name)(fleet, state_dir)
    backend.read_only = read_only
    return backend
