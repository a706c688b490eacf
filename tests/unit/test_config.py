"""molt.toml: every mistake is named, with its key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backends.config.fleet_config import DEMO_FLEETS
from backends.config.loading import load_config
from backends.core.errors import ConfigError, shown


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


def test_without_a_config_the_demo_fleets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    config = load_config(None)
    assert list(config.fleets) == list(DEMO_FLEETS) == ["web", "api"]
    assert config.fleet(None).name == "web"
    assert [f.bootstrap_version for f in config.fleets.values()] == ["v1", "v1"]
    listens = [f.settings.listen for f in config.fleets.values()]
    assert listens == ["127.0.0.1:8080", "127.0.0.1:8081"]
    assert all(f.settings.listen_fallback for f in config.fleets.values())


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


# issue 9: refused at load, one line naming the key ---------------------------------


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (
            "sh -c 'echo ${HOME}; app --port {port}'",
            "fleets.web.start has an unknown placeholder {HOME}",
        ),
        ("{python} app.py --port {prot}", "fleets.web.start has an unknown placeholder {prot}"),
        ("{python} app.py --port {address}", "unknown placeholder {address}"),
        ("{python} app.py { --port {port}", "fleets.web.start has a lone '{'"),
        ("{python} app.py --port 8000", "fleets.web.start must contain {port}"),
    ],
)
def test_start_templates_are_checked_at_load(tmp_path, start, message):
    text = GOOD.replace("{python} server.py --port {port}", start.replace("\\", "\\\\"))
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in caught.value.message
    assert "\n" not in caught.value.message and caught.value.exit_code == 2
    if "must contain" not in message:
        assert "a literal brace as {{" in caught.value.message


def test_a_shell_variable_written_with_doubled_braces_is_accepted(tmp_path):
    start = "sh -c 'echo ${{HOME}}; exec {python} server.py --port {port}'"
    web = load_config(write(tmp_path, GOOD.replace("{python} server.py --port {port}", start)))
    assert web.fleet("web").settings.start == start


@pytest.mark.parametrize(
    "name", ["Web", "-web", "_web", "web.eu", "web eu", "wéb", "a\x1bb", "a\x7fb", ""]
)
def test_fleet_names_are_lowercase_letters_digits_dash_underscore(tmp_path, name):
    text = GOOD.replace("[fleets.web]", f"[fleets.{json.dumps(name)}]")
    with pytest.raises(ConfigError, match=r"a fleet name is lowercase letters, digits") as caught:
        load_config(write(tmp_path, text))
    spelled = (
        name
        if re.fullmatch(r"[A-Za-z0-9_-]+", name)
        else shown(json.dumps(name, ensure_ascii=False))
    )
    assert f"[fleets.{spelled}]" in caught.value.message  # as molt.toml spells it
    assert caught.value.message.isprintable() and caught.value.exit_code == 2


@pytest.mark.parametrize("name", ["web", "0web", "api-eu", "api_v2", "a"])
def test_good_fleet_names_load(tmp_path, name):
    text = GOOD.replace("[fleets.web", f"[fleets.{name}")
    assert list(load_config(write(tmp_path, text)).fleets) == [name]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("drain_timeout = nan", "fleets.web.drain_timeout"),
        ("drain_timeout = inf", "fleets.web.drain_timeout"),
        ("drain_timeout = -inf", "fleets.web.drain_timeout"),
        ("drain_timeout = 1" + "0" * 400, "fleets.web.drain_timeout"),
        ("[fleets.web.health]\ninterval = nan", "fleets.web.health.interval"),
        ("[fleets.web.health]\ntimeout = inf", "fleets.web.health.timeout"),
        ("[fleets.web.health]\nstart_period = nan", "fleets.web.health.start_period"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path, line, key):
    text = GOOD.replace('[fleets.web.health]\npath = "/up"\ninterval = 2\n', "") + line + "\n"
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} must be a finite number") as caught:
        load_config(write(tmp_path, text))
    assert caught.value.exit_code == 2 and len(caught.value.message) < 120


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drain_timeout": float("nan")}, "drain_timeout must be 0 seconds or more, not nan"),
        ({"drain_timeout": float("inf")}, "drain_timeout must be 0 seconds or more, not inf"),
        ({"start": "app {port} ${HOME}"}, "start has an unknown placeholder {HOME}"),
    ],
)
def test_local_settings_made_directly_refuse_the_same(tmp_path, change, message):
    from backends.local.settings import LocalSettings

    with pytest.raises(ConfigError, match=re.escape(message)):
        LocalSettings(**{"artifact": tmp_path, "start": "app {port}", **change})


@pytest.mark.parametrize(
    "change",
    [
        {"interval": float("nan")},
        {"timeout": float("inf")},
        {"start_period": float("nan")},
        {"path": "/up\r\nX-Evil: 1"},
        {"path": "/a b"},
    ],
)
def test_health_settings_made_directly_refuse_nan_inf_and_odd_paths(change):
    from backends.config.health_settings import HealthSettings

    with pytest.raises(ConfigError, match=r"^health\.\w+ must"):
        HealthSettings(**change)


def test_health_path_errors_name_the_key_in_full(tmp_path):
    with pytest.raises(ConfigError, match=r"^fleets\.web\.health\.path must be a URL path"):
        load_config(write(tmp_path, GOOD.replace('path = "/up"', 'path = "/up now"')))


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("9" * 5000, "is not valid TOML: a number too long to read"),
        ("1" + "0" * 400, "fleets.web.count must be a whole number of at most 18 digits"),
    ],
)
def test_numbers_too_long_to_mean_anything_are_refused_in_a_short_line(tmp_path, number, message):
    text = GOOD.replace('listen = "127.0.0.1:9000"', f"count = {number}")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_config(write(tmp_path, text))
    assert len(caught.value.message) < 200


def test_an_artifact_name_too_long_for_the_os_is_not_a_directory(tmp_path):
    text = GOOD.replace('artifact = "app"', f'artifact = "{"x" * 5000}"')
    with pytest.raises(ConfigError, match=r"^fleets\.web\.artifact .* is not a directory"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[fleets.web.health]\ninterval = 1e-9", "fleets.web.health.interval must be 0.1 to 3600"),
        ("[fleets.web.health]\ninterval = 0", "fleets.web.health.interval must be 0.1 to 3600"),
        ("[fleets.web.health]\ntimeout = 0.001", "fleets.web.health.timeout must be 0.1 to 600"),
        ("[fleets.web.health]\nstart_period = 1e12", "health.start_period must be 0 to 86400"),
        ("drain_timeout = -1", "fleets.web.drain_timeout must be 0 to 86400 seconds, not -1"),
    ],
)
def test_durations_have_floors_and_caps(tmp_path, line, message):
    """``interval = 1e-9`` made the agent burn a core: one line naming the key and range."""
    text = GOOD.replace('[fleets.web.health]\npath = "/up"\ninterval = 2\n', "") + line + "\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in caught.value.message and "\n" not in caught.value.message
    assert caught.value.exit_code == 2


def test_durations_at_their_floors_are_fine(tmp_path):
    text = GOOD.replace("interval = 2", "interval = 0.1\ntimeout = 0.1\nstart_period = 0")
    health = load_config(write(tmp_path, text)).fleet("web").settings.health
    assert (health.interval, health.timeout, health.start_period) == (0.1, 0.1, 0)


def test_a_home_directory_this_machine_does_not_have_is_named(tmp_path):
    """`~0` found by the hostile-input property: expanduser raised RuntimeError."""
    text = GOOD.replace('artifact = "app"', 'artifact = "~molt-no-such-user-0/app"')
    with pytest.raises(ConfigError, match="home directory this machine does not have"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("shape", ["[{n}]", "{{ a = {n} }}"])
def test_a_huge_number_inside_a_list_or_table_is_refused_in_one_line(tmp_path, shape):
    """Hypothesis found it: a hexadecimal number reads at any length, but repr() of a list
    holding one too long for decimal raised, and the error became a traceback."""
    config = tmp_path / "molt.toml"
    config.write_text(f"[fleets.web]\nbackend = {shape.format(n='0x' + 'f' * 5000)}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert "too large to show" in refused.value.message
    assert "\n" not in refused.value.message and len(refused.value.message) < 300
