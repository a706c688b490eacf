"""molt.toml: every mistake is named, with its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backends.config import load_config
from backends.fleets import DEMO_FLEET
from backends.errors import ConfigError


def write(tmp_path: Path, text: str) -> str:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    path = tmp_path / "molt.toml"
    path.write_text(text)
    return str(path)


GOOD = """
[fleets.web]
artifact = "app"
start = "{python} server.py --port {port}"
listen = "127.0.0.1:9000"
[fleets.web.health]
path = "/up"
interval = 2
"""


def test_a_local_fleet_with_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    web = config.fleet("web")
    assert web.backend == "local"
    assert web.settings.artifact == tmp_path / "app"  # relative to the config file
    assert web.settings.count == 2 and web.settings.drain_timeout == 30.0
    assert (web.settings.health.path, web.settings.health.interval) == ("/up", 2.0)
    assert web.settings.health.healthy_threshold == 2


def test_without_a_config_the_demo_fleet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    config = load_config(None)
    assert list(config.fleets) == [DEMO_FLEET]
    assert config.fleet(None).bootstrap_version == "v1"
    assert config.fleet(None).settings.listen == "127.0.0.1:8080"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fleets.web\nartifact=", "is not valid TOML"),
        (
            GOOD.replace("[fleets.web.health]", "colour = 'red'\n[fleets.web.health]"),
            "unknown key fleets.web.colour",
        ),
        (
            GOOD.replace('listen = "127.0.0.1:9000"', "count = 'three'"),
            "fleets.web.count must be a whole number, not a string",
        ),
        (
            GOOD.replace("interval = 2", "interval = true"),
            "fleets.web.health.interval must be a number, not true/false",
        ),
        (GOOD.replace('artifact = "app"', ""), "missing key fleets.web.artifact"),
        (GOOD.replace('artifact = "app"', 'artifact = "nope"'), "is not a directory"),
        (
            GOOD.replace("[fleets.web.health]", "backend = 'azure'\n[fleets.web.health]"),
            "backend must be one of local, aws, ssh",
        ),
        (GOOD.replace("{port}", "8000"), "start must contain {port}"),
        (GOOD.replace("127.0.0.1:9000", "localhost"), "listen must look like"),
        ("[molt]\n", "unknown key 'molt'"),
    ],
)
def test_config_errors_name_the_problem(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(write(tmp_path, text))
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2


def test_unknown_fleet_lists_the_known_ones(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="unknown fleet 'api'.*known fleets: web"):
        config.fleet("api")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"))
