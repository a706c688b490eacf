"""molt.toml for an ssh fleet: what is read, and what is refused with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.config import load_config
from backends.errors import ConfigError
from backends.ssh.settings import HostAddress

FLEET = """
[fleets.web]
backend = "ssh"
hosts = ["deploy@10.0.0.11", "deploy@10.0.0.12:2222"]
artifact = "{artifact}"
start = "python3 app.py --port {{port}} --host {{address}}"
{extra}
[fleets.web.lb]
host = "deploy@10.0.0.10"
socket = "/run/haproxy/admin.sock"
backend = "web"
"""


def load(tmp_path: Path, extra: str = ""):
    (tmp_path / "build").mkdir(exist_ok=True)
    path = tmp_path / "molt.toml"
    path.write_text(FLEET.format(artifact="build", extra=extra))
    return load_config(str(path)).fleet("web").settings


def test_an_ssh_fleet_reads_with_its_defaults(tmp_path):
    settings = load(tmp_path)
    assert settings.host_addresses == (
        HostAddress("10.0.0.11", 22, "deploy"), HostAddress("10.0.0.12", 2222, "deploy")
    )
    assert settings.artifact == tmp_path / "build"
    assert settings.known_hosts == Path("~/.ssh/known_hosts").expanduser()
    assert (settings.base_dir, settings.count, settings.identity) == ("/srv/molt", 1, None)
    assert settings.lb.address == HostAddress("10.0.0.10", 22, "deploy")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('ports = "30000"', "ports must look like"),
        ("count = 0", "count (instances per host) must be 1–100"),
        ('base_dir = "srv"', "base_dir must be an absolute path"),
        ('hosts = ["deploy@"]', "must look like deploy@10.0.0.11"),
        ("password = 'x'", "unknown key fleets.web.password"),
    ],
)
def test_mistakes_are_refused_naming_the_setting(tmp_path, extra, message):
    text = FLEET.replace('hosts = ["deploy@10.0.0.11", "deploy@10.0.0.12:2222"]\n', "")
    if not extra.startswith("hosts"):
        extra = 'hosts = ["deploy@10.0.0.11"]\n' + extra
    (tmp_path / "build").mkdir()
    (tmp_path / "molt.toml").write_text(text.format(artifact="build", extra=extra))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(str(tmp_path / "molt.toml"))
