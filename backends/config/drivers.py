"""Which driver serves a fleet, and how the UI presents it. Drivers are imported only
when a fleet uses them, so the local backend never pays for boto3 or asyncssh."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Driver:
    """One kind of backend: where its code lives and the words the UI uses for it.

    Attributes:
        name: ``local``, ``aws``, ``ssh`` (``backend = …`` in molt.toml).
        backend: ``module:Class`` of its :class:`Backend`.
        settings: ``module:Class`` of its settings dataclass.
        entry_word: what its traffic entry point is called (``proxy``, ``ALB``).
        artifact_label: what a launch freezes, as the launch dialog asks for it.
        artifact_setting: the settings attribute holding the fleet's default artifact.
        artifact_required: a launch must name one when the fleet has no default.
        quit_hint: said when Molt closes (how to stop what keeps running), if anything.
    """

    name: str
    backend: str
    settings: str
    entry_word: str = "entry"
    artifact_label: str = "Artifact directory"
    artifact_setting: str = "artifact"
    artifact_required: bool = False
    quit_hint: str = ""

    def default_artifact(self, settings: Any) -> str:
        return str(getattr(settings, self.artifact_setting, None) or "")

    def entry_label(self, entry: str) -> str:
        """``proxy 127.0.0.1:8080``: the entry point in the backend's words."""
        return f"{self.entry_word} {entry or '—'}"


DRIVERS: dict[str, Driver] = {
    "local": Driver(
        "local",
        "backends.local.driver:LocalBackend",
        "backends.local.settings:LocalSettings",
        entry_word="proxy",
        quit_hint="`molt agent stop` stops the local agent and its instances.",
    ),
    "aws": Driver(
        "aws",
        "backends.aws.driver:AwsBackend",
        "backends.aws.settings:AwsSettings",
        entry_word="ALB",
        artifact_label="Image (AMI)",
        artifact_setting="image",
        artifact_required=True,
    ),
    "ssh": Driver(
        "ssh",
        "backends.ssh.driver:SshBackend",
        "backends.ssh.settings:SshSettings",
        entry_word="HAProxy",
    ),
}


def describe(backend: str) -> Driver:
    """The driver named ``backend``; one with neutral words for a backend Molt does not
    ship (a test's synthetic one)."""
    return DRIVERS.get(backend) or Driver(backend, "", "")


def _load(path: str, backend: str) -> Any:
    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"the {backend} backend is not available: {error}") from error
    return getattr(module, name)


def settings_class(backend: str) -> type[Any]:
    cls: type[Any] = _load(DRIVERS[backend].settings, backend)
    return cls


def open_backend(fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> Backend:
    """A connected-on-demand driver for ``fleet``; ``read_only`` forbids it every write,
    ``apply`` included, for its whole life (no read writes in either mode)."""
    cls = _load(DRIVERS[fleet.backend].backend, fleet.backend)
    backend: Backend = cls(fleet, state_dir, read_only=read_only)
    return backend
