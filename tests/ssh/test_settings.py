"""molt.toml for an ssh fleet: what is read, and what is refused with the key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backends.config.loading import load_config
from backends.core.errors import ConfigError
from backends.ssh.settings import HostAddress, LbSettings, SshSettings

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
        HostAddress("10.0.0.11", 22, "deploy"),
        HostAddress("10.0.0.12", 2222, "deploy"),
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


# issue 9: host names, templates, numbers, one HAProxy backend per fleet ----------------


def refused(tmp_path: Path, text: str) -> str:
    (tmp_path / "build").mkdir(exist_ok=True)
    (tmp_path / "molt.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path / "molt.toml"))
    assert "\n" not in caught.value.message and caught.value.exit_code == 2
    return caught.value.message


@pytest.mark.parametrize(
    "host",
    [
        "deploy@-oProxyCommand=sh",
        "deploy@web_1",
        "deploy@a;reboot",
        "deploy@10.0.0.1\\u001b[2J",
        "de ploy@10.0.0.1",
        "-l@10.0.0.1",
        "deploy@999.0.0.1",
        "deploy@[10.0.0.1]",
        "deploy@[::1",
        "deploy@10.0.0.1:²",
    ],
)
def test_host_names_are_hostname_characters(tmp_path, host):
    text = FLEET.format(artifact="build", extra="").replace(
        '["deploy@10.0.0.11", "deploy@10.0.0.12:2222"]', f'["{host}"]'
    )
    message = refused(tmp_path, text)
    assert message.startswith("fleets.web.hosts: ") and "\x1b" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web-1.example.com", HostAddress("web-1.example.com")),
        ("deploy@[2001:db8::1]:2222", HostAddress("2001:db8::1", 2222, "deploy")),
        ("ops_2@[fe80::1%eth0]", HostAddress("fe80::1%eth0", 22, "ops_2")),
        ("127.0.0.7", HostAddress("127.0.0.7")),
    ],
)
def test_good_host_names_parse(text, expected):
    assert HostAddress.parse(text) == expected


def test_the_lb_host_is_checked_too(tmp_path):
    text = FLEET.format(artifact="build", extra="").replace(
        'host = "deploy@10.0.0.10"', 'host = "deploy@lb host"'
    )
    assert refused(tmp_path, text).startswith(
        "fleets.web.lb.host: 'deploy@lb host' must name a host"
    )


@pytest.mark.parametrize(
    ("start", "phrase"),
    [
        ("{python} app.py --port {port}", "unknown placeholder {python}"),
        ("sh -c 'echo ${HOME}; app --port {port}'", "unknown placeholder {HOME}"),
        ("app --host {address}", "must contain {port}"),
    ],
)
def test_ssh_start_templates_are_checked(tmp_path, start, phrase):
    text = FLEET.format(artifact="build", extra="").replace(
        "python3 app.py --port {port} --host {address}", start
    )
    assert phrase in refused(tmp_path, text)


def test_a_literal_brace_is_written_twice(tmp_path):
    start = "sh -c 'exec python3 app.py --port {port} --home ${{HOME}}'"
    text = FLEET.format(artifact="build", extra="").replace(
        "python3 app.py --port {port} --host {address}", start
    )
    (tmp_path / "build").mkdir()
    (tmp_path / "molt.toml").write_text(text)
    assert load_config(str(tmp_path / "molt.toml")).fleet("web").settings.start == start


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("connect_timeout = nan", "fleets.web.connect_timeout"),
        ("drain_timeout = inf", "fleets.web.drain_timeout"),
        ("[fleets.web.health]\ninterval = nan", "fleets.web.health.interval"),
    ],
)
def test_non_finite_numbers_are_refused(tmp_path, extra, key):
    text = FLEET.format(artifact="build", extra=extra)
    assert refused(tmp_path, text).startswith(f"{key} must be a finite number")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"connect_timeout": float("nan")}, "connect_timeout must be more than 0 seconds, not nan"),
        ({"drain_timeout": float("inf")}, "drain_timeout must be 0 seconds or more, not inf"),
        ({"ports": "²0000-29999"}, "ports must look like"),
        ({"start": "app {port} {python}"}, "unknown placeholder {python}"),
    ],
)
def test_ssh_settings_made_directly_refuse_the_same(tmp_path, change, message):
    lb = LbSettings(host="deploy@10.0.0.10", socket="/run/haproxy.sock", backend="web")
    base = {"hosts": ("deploy@10.0.0.11",), "artifact": tmp_path, "start": "app {port}", "lb": lb}
    with pytest.raises(ConfigError, match=re.escape(message)):
        SshSettings(**{**base, **change})


SECOND = """
[fleets.api]
backend = "ssh"
hosts = ["deploy@10.0.0.21"]
artifact = "build"
start = "python3 api.py --port {{port}}"
[fleets.api.lb]
host = "{lb}"
socket = "/run/haproxy/admin.sock"
backend = "{backend}"
"""


def test_two_fleets_cannot_share_one_haproxy_backend(tmp_path):
    text = FLEET.format(artifact="build", extra="") + SECOND.format(
        lb="ops@10.0.0.10:22", backend="web"
    )
    message = refused(tmp_path, text)
    assert "fleets.web and fleets.api both use HAProxy backend 'web' on 10.0.0.10" in message


def test_two_fleets_on_one_haproxy_with_their_own_backends_load(tmp_path):
    text = FLEET.format(artifact="build", extra="") + SECOND.format(
        lb="deploy@10.0.0.10", backend="api"
    )
    (tmp_path / "build").mkdir()
    (tmp_path / "molt.toml").write_text(text)
    assert list(load_config(str(tmp_path / "molt.toml")).fleets) == ["web", "api"]
