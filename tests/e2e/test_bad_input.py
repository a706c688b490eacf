"""Bad input gets one line naming the problem and an exit code — never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.local.demo import demo_artifact
from tests.support.local import molt

FLEET = f"""
[fleets.web]
artifact = "{demo_artifact()}"
start = "{{python}} app.py --port {{port}}"
listen = "127.0.0.1:0"
"""


def config(state_dir: Path, text: str) -> Path:
    path = state_dir / "molt.toml"
    path.write_text(text)
    return path


def assert_one_line(done, code: int, *phrases: str) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for phrase in phrases:
        assert phrase in done.stderr


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("[fleets.web\nartifact =", ("molt.toml is not valid TOML",)),
        (FLEET + "replicas = 3\n", ("unknown key fleets.web.replicas",)),
        (FLEET + "count = 'two'\n", ("fleets.web.count must be a whole number, not a string",)),
    ],
)
def test_broken_config_exits_2(state_dir, text, phrases):
    done = molt(state_dir, "status", config=config(state_dir, text))
    assert_one_line(done, 2, *phrases)


def test_unknown_fleet_exits_2(state_dir):
    done = molt(state_dir, "status", "api", config=config(state_dir, FLEET))
    assert_one_line(done, 2, "unknown fleet 'api'", "known fleets: web")


def test_unknown_generation_exits_1(state_dir):
    path = config(state_dir, FLEET)
    done = molt(state_dir, "retire", "web", "g9", config=path)
    assert_one_line(done, 1, "fleet web has no generation g9")
    done = molt(state_dir, "promote", "web", "g9", config=path)
    assert_one_line(done, 1, "no generation g9")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("shift", "web", "g1=fifty"), "weights look like g1=90 g2=10"),
        (("launch", "web"), "the following arguments are required: --version"),
        (("explode",), "invalid choice: 'explode'"),
    ],
)
def test_usage_errors_exit_2(state_dir, args, phrase):
    done = molt(state_dir, *args, config=config(state_dir, FLEET))
    assert_one_line(done, 2, phrase)


def test_read_only_refuses_before_touching_anything(state_dir):
    path = config(state_dir, FLEET)
    done = molt(state_dir, "--read-only", "launch", "web", "--version", "v1", config=path)
    assert_one_line(done, 1, "read-only mode: launch is not allowed")
    status = molt(state_dir, "status", "web", "--json", config=path)
    assert '"generations": []' in status.stdout


# issue 9: refused at load or at the door, before anything starts -----------------------


@pytest.mark.parametrize(
    ("change", "phrases"),
    [
        (
            ("{python} app.py --port {port}", "sh -c 'echo ${HOME}; {python} app.py -p {port}'"),
            ("fleets.web.start has an unknown placeholder {HOME}", "a literal brace as {{"),
        ),
        (("[fleets.web]", "[fleets.Web]"), ("[fleets.Web]: a fleet name is lowercase",)),
        (('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:0"\ndrain_timeout = nan'),
         ("fleets.web.drain_timeout must be a finite number, not nan",)),
        (('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:0"\n[fleets.web.health]\ninterval = inf'),
         ("fleets.web.health.interval must be a finite number, not inf",)),
        # issue 18: a floor (1e-9 made the agent burn a core), one line with the range
        (('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:0"\n[fleets.web.health]\ninterval = 1e-9'),
         ("fleets.web.health.interval must be 0.1 to 3600 seconds, not 1e-09",)),
    ],
)  # fmt: skip
def test_a_bad_template_name_or_number_is_refused_at_load(state_dir, change, phrases):
    text = FLEET.replace(*change)
    done = molt(state_dir, "status", config=config(state_dir, text))
    assert_one_line(done, 2, *phrases)
    assert not (state_dir / "agent.sock").exists()


@pytest.mark.parametrize(
    ("flag", "value", "phrase"),
    [
        ("--note", "fix \x1b[2J\x1b[31mparser", "the note holds a control character (U+001B"),
        ("--note", "one\nmolt: retire web g1 ok", "the note holds a control character (U+000A"),
        ("--note", "abc\u202edcba", "the note holds a control character (U+202E"),
        ("--version", "v2\x1b]0;pwned\x07", "the version holds a control character (U+001B"),
        # issue 18: what looks like v8 but is not, and pastes gone wrong
        ("--version", "v8\u200b", "the version holds an invisible character (U+200B"),
        ("--version", "\ufeffv8", "the version holds an invisible character (U+FEFF"),
        ("--version", "v" * 10_000, "the version is 10000 characters long; keep it to 128"),
        ("--note", "n" * 120_000, "the note is 120000 characters long; keep it to 1000"),
    ],
)
def test_control_characters_in_a_note_or_version_exit_2_before_anything_starts(
    state_dir, flag, value, phrase
):
    args = ["launch", "web", "--version", "v2", flag, value]
    done = molt(state_dir, *args, config=config(state_dir, FLEET))
    assert_one_line(done, 2, phrase)
    assert "\x1b" not in done.stderr and "\u202e" not in done.stderr
    assert not (state_dir / "agent.sock").exists()  # refused before an agent was started
