"""Hostile command lines: ``molt`` run in-process on generated argv always ends with
exit 0, 1 or 2 and at most one short printable line on stderr — never a traceback.

Every example runs with ``--read-only`` against a local fleet whose state dir is fresh
(no agent runs, and read-only never starts one), so nothing can start or change
anything. ``watch`` is left out: it follows a fleet until told to stop.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from backends.core.errors import ConfigError
from backends.local.demo import demo_artifact
from tui.cli import main as cli
from tui.cli import release, verbs

EXAMPLES = 500
MAX_STDERR = 400

SUBCOMMANDS = [
    "status", "launch", "shift", "promote", "rollback", "retire", "history", "verify",
    "agent", "rollout", "changes", "notify",
]  # fmt: skip
FLAGS = [
    "--json", "--version", "--count", "--note", "--artifact", "--image", "--wait",
    "--timeout", "--force", "--check", "--yes", "--fleet", "--config", "--read-only",
    "--steps", "--bake", "--pause", "--resume", "--abort", "--until", "-h", "--help", "--",
    "-", "--vers", "--no-such-flag",
]  # fmt: skip
NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e309", "9" * 30, "٣", "²", "0x10", "1_000"]

numbers = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
weight_numbers = numbers
weights = st.builds(
    lambda generation, sep, value: f"{generation}{sep}{value}",
    st.sampled_from(["g1", "g2", "", "x", "g1 "]),
    st.sampled_from(["=", "==", ":"]),
    weight_numbers | st.sampled_from(["", "999999999999", "fifty"]),
)
hostile_weights = st.builds("{}={}".format, st.sampled_from(["g1", "\x1b[2J", "\u202e"]), numbers)
odd_text = st.text(
    st.characters(codec="utf-8") | st.sampled_from("\x00\x1b\x7f\x9b\u2028\u202e\n\r\t\udcff"),
    max_size=30,
)
words = st.one_of(
    st.sampled_from(FLAGS),
    st.sampled_from(SUBCOMMANDS + ["web", "demo", "g1", "g2", "g99999999999999999999", "stop"]),
    weights,
    numbers,
    odd_text,
)


generations = st.one_of(
    st.sampled_from(["g1", "g2", "g3"]),
    st.sampled_from(["g1", "g2", "g3"]),
    st.sampled_from(["g0", "g99999999999999999999", "G1", "-g1", "g1/../x"]),
    odd_text,
)
fleets = st.one_of(st.just("web"), st.just("web"), st.just("web"), st.just("demo"), odd_text)
good_weights = st.builds("g{}={}".format, st.integers(1, 3), st.integers(0, 100))


def one(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return values.map(lambda value: [value])


def maybe(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(values, max_size=1)


def flags(*names: str) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(names), max_size=2, unique=True)


def valued(flag: str, values: st.SearchStrategy[str], required: bool = False):
    pairs = st.lists(st.tuples(st.just(flag), values), min_size=int(required), max_size=1)
    return pairs.map(lambda found: [word for pair in found for word in pair])


# each subcommand with its own arguments, their values drawn from hostile pools
SHAPES = {
    "status": [maybe(fleets), flags("--json")],
    "launch": [
        one(fleets),
        valued("--version", st.sampled_from(["v1", "v2"]) | odd_text, required=True),
        valued("--count", numbers),
        valued("--note", odd_text | st.sampled_from(["fix [/] parser", "[bold]x 🐍"])),
        valued("--timeout", numbers),
        flags("--wait", "--json"),
    ],
    "shift": [one(fleets), st.lists(good_weights | weights, min_size=1, max_size=3),
              flags("--force", "--json")],
    "promote": [one(fleets), one(generations), flags("--force", "--json")],
    "retire": [one(fleets), one(generations)],
    "rollback": [one(fleets), flags("--json")],
    "history": [one(fleets), flags("--json", "--check")],
    "verify": [one(fleets), maybe(generations), flags("--json")],
    "agent": [one(st.sampled_from(["status", "stop"]) | odd_text), flags("--yes", "--json")],
    "rollout": [one(fleets), maybe(generations),
                valued("--steps", st.sampled_from(["10,50,100", "0", "101", "a,b", ""]) | odd_text),
                valued("--bake", numbers), flags("--pause", "--resume", "--abort")],
    "changes": [valued("--since", st.sampled_from(["1h", "2h", "0", "-1h", "forever"]) | numbers
                       | odd_text),
                valued("--fleet", fleets | st.sampled_from(["web,api", ",", "web,,web"])),
                flags("--json")],
    "notify": [one(st.just("test") | odd_text), flags("--json")],
}  # fmt: skip


@st.composite
def command_lines(draw) -> list[str]:
    """A subcommand with arguments of the right shape and hostile values; now and then
    junk words or flags at the end, or a made-up subcommand."""
    name = draw(st.sampled_from(SUBCOMMANDS))
    argv = [name]
    for part in SHAPES[name]:
        argv += draw(part)
    if draw(st.sampled_from([False, False, False, True])):
        argv += draw(st.lists(words, min_size=1, max_size=4))
    if draw(st.sampled_from([False] * 9 + [True])):
        argv[0] = draw(odd_text)
    return argv


@pytest.fixture
def small_fleet(tmp_path, monkeypatch) -> Path:
    """A local molt.toml, a fresh state dir, a working dir and user config dir with no
    molt.toml in them; the TUI replaced by a stub (a command line without a valid
    subcommand must not open it)."""
    monkeypatch.setenv("MOLT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(verbs, "open_tui", lambda args: 0)
    path = tmp_path / "molt.toml"
    path.write_text(
        f'[fleets.web]\nartifact = "{demo_artifact()}"\n'
        'start = "{python} app.py --port {port}"\nlisten = "127.0.0.1:0"\n'
    )
    return path


def run_molt(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``molt ARGV`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as done:  # argparse: --help, usage errors
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def check_answer(code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert err.count("\n") <= 1 and (not err or err.endswith("\n")), err
    line = err.removesuffix("\n")
    assert len(line) <= MAX_STDERR and line.isprintable(), repr(line)


def test_any_command_line_ends_with_0_1_or_2_and_one_printable_line(small_fleet):
    reached: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(command_lines())
    def molt(argv):
        code, out, err = run_molt(["--config", str(small_fleet), "--read-only", *argv])
        check_answer(code, out, err)
        event(f"exit {code}")
        reached[f"exit {code}"] += 1

    molt()
    print(f"molt command lines: {reached.total()} examples reached the assertion: {dict(reached)}")
    assert reached.total() >= EXAMPLES * 0.9
    assert not (small_fleet.parent / "state" / "agent.sock").exists()  # nothing was started


@settings(max_examples=EXAMPLES, database=None)
@example(["g1=²"])
@given(st.lists(good_weights | weights | hostile_weights | odd_text, min_size=1, max_size=4))
def test_weights_from_the_command_line_are_whole_numbers_or_a_usage_error(pairs):
    try:
        parsed = release.parse_weights(pairs)
    except ConfigError as error:
        assert error.message.isprintable() and error.exit_code == 2, error.message
        event("refused: usage error")
        return
    assert all(type(w) is int for w in parsed.values())
    event("parsed")
