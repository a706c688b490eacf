"""Fixtures of the ssh backend's tests: the session's sshd hosts, and per test a fleet
with its own HAProxy, molt.toml and state dir, driven through the real ``molt``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backends.ssh.settings import SshSettings
from tests.ssh.lb import HaproxyProcess
from tests.ssh.processes import missing_parts
from tests.ssh.rig import Rig, SshHost, shared_rig
from tests.support.local import molt, short_state_dir


def render_config(name: str, settings: SshSettings) -> str:
    """molt.toml for one ssh fleet, as an operator would write it."""
    hosts = ", ".join(json.dumps(h) for h in settings.hosts)
    lines = [
        f"[fleets.{name}]",
        'backend = "ssh"',
        f"hosts = [{hosts}]",
        f'known_hosts = "{settings.known_hosts}"',
        f'identity = "{settings.identity}"',
        f'artifact = "{settings.artifact}"',
        f"start = {json.dumps(settings.start)}",
        f'ports = "{settings.ports}"',
        f"count = {settings.count}",
        f"connect_timeout = {settings.connect_timeout}",
        f"drain_timeout = {settings.drain_timeout}",
        f"log_size = {settings.log_size}",
        f"[fleets.{name}.lb]",
        f'host = "{settings.lb.host}"',
        f'socket = "{settings.lb.socket}"',
        f'backend = "{settings.lb.backend}"',
        f'entry = "{settings.lb.entry}"',
        f"[fleets.{name}.health]",
        f"interval = {settings.health.interval}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class SshFleet:
    """A fleet on the rig's hosts, behind its own HAProxy, reached by the real CLI."""

    rig: Rig
    name: str
    proxy: HaproxyProcess
    settings: SshSettings
    state_dir: Path
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.state_dir / "molt.toml"
        self.write(self.settings)

    def write(self, settings: SshSettings) -> None:
        self.settings = settings
        self.config.write_text(render_config(self.name, settings))

    def molt(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return molt(self.state_dir, *args, config=self.config, timeout=timeout)

    def ok(self, *args: str) -> str:
        done = self.molt(*args)
        assert done.returncode == 0, f"molt {' '.join(args)}: {done.stderr}"
        return done.stdout

    def status(self) -> dict:
        return json.loads(self.ok("status", self.name, "--json"))

    def generation(self, generation: str) -> dict:
        return next(g for g in self.status()["generations"] if g["id"] == generation)


@pytest.fixture(scope="session")
def rig() -> Rig:
    if why := missing_parts():
        pytest.skip(why)
    return shared_rig()


@pytest.fixture
def make_fleet(rig: Rig) -> Iterator[Callable[..., SshFleet]]:
    made: list[SshFleet] = []

    def make(hosts: list[SshHost | str] | None = None, **overrides: object) -> SshFleet:
        name = rig.fresh_name("web")
        proxy = rig.haproxy(name)
        specs = [h.spec if isinstance(h, SshHost) else h for h in (hosts or rig.hosts)]
        settings = rig.settings(specs, rig.hosts[0], proxy, **overrides)
        fleet = SshFleet(rig, name, proxy, settings, short_state_dir())
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        for host in rig.hosts:
            host.resume()
        rig.kill_instances(fleet.name)
        fleet.proxy.stop()
        rig.remove_fleet(fleet.name)
        subprocess.run(["rm", "-rf", str(fleet.state_dir)], check=False)
