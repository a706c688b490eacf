"""Hostile input from outside Molt: molt.toml documents, HAProxy ``show stat`` answers,
SSH command output. Whatever comes in, the answer is a config, parsed values that are
safe to use, or one printable line naming the problem — never another exception.

Each suite counts how many of its examples reached the assertion (printed with ``-s``,
and shown as Hypothesis events), and fails if fewer than 90% did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import string
import types
import typing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from backends.aws.settings import AwsSettings, RetrySettings, TargetHealthCheck
from backends.config.health_settings import HealthSettings
from backends.config.loading import load_config
from backends.core.errors import ConfigError
from backends.core.model import utcnow
from backends.local.settings import LocalSettings
from backends.ssh import haproxy, remote
from backends.ssh.settings import LbSettings, SshSettings

EXAMPLES = 500
MIN_REACH = 0.9


def reach(check: Callable[..., str], *strategies: st.SearchStrategy) -> dict[str, int]:
    """Run ``check`` on :data:`EXAMPLES` generated examples; it returns what the example
    came to once its assertions passed. Fails below 90% of examples reaching them."""
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, database=None)
    @given(st.tuples(*strategies))
    def run(args):
        outcome = check(*args)
        event(outcome)
        outcomes[outcome] += 1

    run()
    print(f"{check.__name__}: {outcomes.total()} examples reached the assertion: {dict(outcomes)}")
    assert outcomes.total() >= EXAMPLES * MIN_REACH
    return dict(outcomes)


# molt.toml -------------------------------------------------------------------------------

SETTINGS = (LocalSettings, SshSettings, LbSettings, AwsSettings, HealthSettings,
            TargetHealthCheck, RetrySettings)  # fmt: skip
VOCABULARY = sorted({f.name for cls in SETTINGS for f in dataclasses.fields(cls)} | {"backend"})

odd_strings = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", "app", "/", "~", "..", "{port}", "{python} app.py --port {port}",
                     "sh -c 'echo ${HOME}; {port}'", "{", "}}", "{prot}", "127.0.0.1:0",
                     "deploy@10.0.0.11", "[::1]:22", "x" * 5000, "\x00", "\x1b[2J", "nan",
                     "/healthz", "20000-29999", "²", "local", "ssh", "aws"]),
)  # fmt: skip


class Literal(str):
    """Written into the document as it is: numbers Python cannot even print."""


numbers = st.one_of(
    st.sampled_from(
        [
            Literal("9" * 5000),
            Literal("-" + "9" * 4301),
            Literal("0x" + "f" * 5000),
            Literal("1e99999"),
            Literal("1" + "0" * 4000),
        ]
    ),
    st.integers(),
    st.sampled_from([0, -1, 1, 2**63, -(2**63), 10**400, -(10**400), 65536]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
)
scalars = st.one_of(
    odd_strings,
    numbers,
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
keys = st.sampled_from(VOCABULARY) | st.text(st.characters(codec="utf-8"), max_size=12)
tables = st.dictionaries(keys, values, max_size=6)
fleet_names = st.one_of(st.just("web"), st.just("api-2"), st.just("a_b"), st.text(max_size=8))

GOOD = {
    "local": {"artifact": "app", "start": "{python} app.py --port {port}",
              "listen": "127.0.0.1:0"},
    "ssh": {"backend": "ssh", "hosts": ["deploy@10.0.0.11"], "artifact": "app",
            "start": "app --port {port}",
            "lb": {"host": "deploy@10.0.0.10", "socket": "/run/haproxy.sock", "backend": "web"}},
    "aws": {"backend": "aws", "region": "eu-west-1", "vpc_id": "vpc-1", "subnets": ["s-1"],
            "listener_arn": "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/w/1/2"},
}  # fmt: skip
CLASSES = {"local": LocalSettings, "ssh": SshSettings, "aws": AwsSettings}


def typed_values(hint: Any) -> st.SearchStrategy[Any]:
    """Values of the setting's own type, hostile ones among them: what gets past the
    type check to the settings' own rules."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return typed_values(next(a for a in typing.get_args(hint) if a is not type(None)))
    if dataclasses.is_dataclass(hint):
        return typed_tables(hint)
    if origin is tuple:
        return st.lists(odd_strings, max_size=3)
    if hint is float:
        return numbers
    if hint is int:
        return st.integers(-5, 70000) | st.sampled_from([0, -1, 2**63, 10**400])
    if hint is bool:
        return st.booleans()
    return odd_strings  # str and Path


def typed_tables(cls: Any) -> st.SearchStrategy[dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    return st.dictionaries(
        st.sampled_from(sorted(hints)), st.deferred(lambda: st.one_of(*fields_of(hints))),
        max_size=3,
    )  # fmt: skip


def fields_of(hints: dict[str, Any]) -> list[st.SearchStrategy[Any]]:
    return [typed_values(hint) for hint in hints.values()]


@st.composite
def fleet_tables(draw) -> dict[str, Any]:
    """A working fleet table with a few settings changed to hostile values of their own
    type (most examples), any value, or removed; now and then a table made up whole."""
    if draw(st.sampled_from([False] * 9 + [True])):
        return draw(tables)
    backend = draw(st.sampled_from(sorted(GOOD)))
    table = dict(GOOD[backend])
    hints = typing.get_type_hints(CLASSES[backend])
    for name in draw(st.lists(st.sampled_from(sorted(hints)), max_size=3, unique=True)):
        how = draw(st.sampled_from(["typed", "typed", "typed", "any", "remove"]))
        if how == "remove":
            table.pop(name, None)
        else:
            table[name] = draw(typed_values(hints[name]) if how == "typed" else values)
    if draw(st.sampled_from([False] * 9 + [True])):
        table.update(draw(tables))
    return table


@st.composite
def documents(draw) -> dict[str, Any]:
    fleets = draw(st.dictionaries(fleet_names, fleet_tables(), min_size=1, max_size=3))
    document: dict[str, Any] = {"fleets": fleets}
    if draw(st.sampled_from([False] * 9 + [True])):
        document.update(draw(tables))
    return document


def toml_key(key: str) -> str:
    bare = key and all(c in string.ascii_letters + string.digits + "-_" for c in key)
    return key if bare else toml_string(key)


def toml_string(text: str) -> str:
    escaped = "".join(
        f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in '"\\' else c
        for c in text
    )
    return f'"{escaped}"'


def toml_value(value: Any) -> str:
    if isinstance(value, Literal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(table: dict[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    """``[a.b]`` sections for tables, ``key = value`` lines for the rest."""
    lines = [f"[{'.'.join(toml_key(p) for p in path)}]"] if path else []
    nested = {k: v for k, v in table.items() if isinstance(v, dict)}
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items() if k not in nested]
    for key, sub in nested.items():
        lines += toml_document(sub, (*path, key))
    return lines


@st.composite
def toml_texts(draw) -> str:
    """Generated documents, a few of them cut short or with a character thrown in."""
    text = "\n".join(toml_document(draw(documents()))) + "\n"
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "insert"]))
    where = draw(st.integers(0, len(text)))
    if damage == "cut":
        return text[:where]
    if damage == "insert":
        return text[:where] + draw(st.sampled_from("[]{}=\"'\\\n\x00\x1b#.,")) + text[where:]
    return text


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    return tmp_path


def test_any_molt_toml_loads_or_is_refused_in_one_printable_line(config_dir):
    path = config_dir / "molt.toml"

    def load_any_document(text: str) -> str:
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(str(path))
        except ConfigError as error:
            assert error.exit_code == 2
            assert error.message and error.message.isprintable(), repr(error.message)
            return "refused"
        assert config.fleets and all(f.settings is not None for f in config.fleets.values())
        return "loaded"

    outcomes = reach(load_any_document, toml_texts())
    assert outcomes.get("loaded", 0) > 0  # the suite reaches the settings, not just the parser


# HAProxy show stat ----------------------------------------------------------------------

COLUMNS = [
    "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq",
    "dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck",
    "chkfail", "chkdown", "lastchg", "downtime", "qlimit", "pid", "iid", "sid", "throttle",
    "lbtot", "tracked", "type", "rate", "rate_lim", "rate_max", "check_status", "check_code",
    "check_duration", "hrsp_1xx", "hrsp_2xx", "last_chk", "last_agt", "qtime", "ctime",
]  # fmt: skip
fields = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "UP", "DOWN", "MAINT", "UP 1/2", "L7OK", "* L4CON", "200", "-1",
                     "9" * 40, "١٢", "²", "1_000", " 7 ", "web-g1-1", "FRONTEND", "BACKEND",
                     '"a,b"', '"', "\x00", "\x1b[2J", "x\u2028y", "x" * 300]),
    st.text(st.characters(codec="utf-8"), max_size=20),
)  # fmt: skip


@st.composite
def stat_answers(draw) -> str:
    """``show stat`` answers: the real header (some columns dropped, some made up),
    rows of real-looking and junk fields, too few or too many of them; now and then
    no header at all."""
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, unique=True))
    if draw(st.booleans()):
        header = ["pxname", "svname", "status", "weight", "scur", "lastchg", *header]
    header = list(dict.fromkeys(header + draw(st.lists(st.sampled_from(["x", "#"]), max_size=1))))
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 2]))
        row = draw(st.lists(fields, min_size=max(0, width), max_size=max(0, width)))
        if "svname" in header and row and draw(st.booleans()):
            row[header.index("svname") % len(row)] = draw(st.sampled_from(["g1-1", "g2-3"]))
        rows.append(",".join(row))
    prefix = draw(st.sampled_from(["# ", "# ", "# ", "", "#", "  # "]))
    return prefix + ",".join(header) + "\n" + "\n".join(rows) + "\n"


def is_safe(stat: haproxy.ServerStat) -> bool:
    texts = (stat.name, stat.status, stat.check_status, stat.check_code, stat.check_desc)
    assert all(isinstance(t, str) and t.isprintable() for t in texts)
    assert haproxy.SERVER_NAME.fullmatch(stat.name)
    assert type(stat.weight) is int and 0 <= stat.weight <= haproxy.MAX_WEIGHT
    assert type(stat.sessions) is int and stat.sessions >= 0
    assert stat.check_ms is None or (math.isfinite(stat.check_ms) and stat.check_ms >= 0)
    assert stat.since_change is None or type(stat.since_change) is int
    if stat.since_change is not None:
        assert utcnow() - dt.timedelta(seconds=stat.since_change)  # usable as a moment
    return True


def test_any_show_stat_answer_parses_into_safe_values_or_is_refused():
    def parse_any_answer(text: str) -> str:
        try:
            servers = haproxy.parse_stat(text)
        except ValueError as error:
            assert str(error).startswith("not a show stat answer"), error
            return "refused"
        assert all(name == stat.name and is_safe(stat) for name, stat in servers.items())
        return "servers" if servers else "no servers"

    outcomes = reach(parse_any_answer, stat_answers())
    assert outcomes.get("servers", 0) > 0


def test_a_show_stat_answer_with_huge_or_negative_numbers_reads_them_as_unknown():
    text = (
        "# pxname,svname,status,weight,scur,lastchg,check_duration\n"
        f"web,g1-1,UP,-5,{'9' * 40},{10**15},-3\n"
        "web,g1-2,UP,300,²,١٢,7\n"
        "web,bad name\x1b,UP,1,1,1,1\n"
    )
    servers = haproxy.parse_stat(text)
    assert sorted(servers) == ["g1-1", "g1-2"]
    first, second = servers["g1-1"], servers["g1-2"]
    assert (first.weight, first.sessions, first.since_change, first.check_ms) == (0, 0, None, None)
    assert (second.weight, second.sessions, second.since_change, second.check_ms) == (
        0,
        0,
        None,
        7.0,
    )


def test_a_field_too_large_for_csv_is_a_refused_answer():
    with pytest.raises(ValueError, match="not a show stat answer"):
        haproxy.parse_stat('# pxname,svname\nweb,"' + "x" * 200_000 + '"\n')


# SSH command output ---------------------------------------------------------------------

digests = st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64),
                    st.text("0123456789abcdefABCDEF²", min_size=63, max_size=65))  # fmt: skip
words = st.one_of(
    st.sampled_from(["g1-1", "up", "down", "0A", "01", "0100007F:1F90", "00000000:0050",
                     "0100007F:ZZZZ", "0100007F:", ":", "4194305", "123", "-1", "²", "٣",
                     "9" * 30, "./a", "\\", "  "]),
    digests,
    st.text(st.characters(codec="utf-8"), max_size=12),
)  # fmt: skip
lines = st.lists(words, max_size=6).map(" ".join) | st.builds(
    lambda escape, digest, path: f"{escape}{digest}  {path}",
    st.sampled_from(["", "\\"]),
    digests,
    st.text(st.characters(codec="utf-8"), max_size=12),
)
outputs = st.lists(lines, max_size=8).map("\n".join) | st.text(max_size=200)


def check_remote_parsers(text: str, address: str) -> str:
    probed = remote.parse_probe(text)
    for liveness in probed.values():
        assert liveness.pid is None or 0 < liveness.pid <= remote.MAX_PID
        assert liveness.pid is not None or not liveness.running
    ports = remote.parse_listening(text, address)
    assert all(type(p) is int and 0 <= p <= 65535 for p in ports)
    started = remote.parse_started(text)
    assert all(type(pid) is int and 0 < pid <= remote.MAX_PID for pid in started.values())
    hashes = remote.parse_hashes(text)
    assert all(len(d) == 64 and set(d) <= set("0123456789abcdef") for d in hashes.values())
    tree = remote.parse_tree(text, text.replace("\n", "\0"))
    assert all(isinstance(entry, dict) for entry in tree.values())
    found = bool(probed or ports or started or hashes or tree)
    return "something parsed" if found else "nothing parsed"


def test_ssh_command_output_parsers_never_raise():
    addresses = st.sampled_from(["127.0.0.1", "10.0.0.11", "999.1.1.1", "².1.1.1", "", "::1"])
    outcomes = reach(check_remote_parsers, outputs, addresses)
    assert outcomes.get("something parsed", 0) > 0


def test_sha256sum_escapes_are_undone_in_one_pass():
    digest = "a" * 64
    text = f"\\{digest}  ./back\\\\nslash\n\\{digest}  ./new\\nline\n{digest}  ./odd\x85name\n"
    assert remote.parse_hashes(text) == {
        "back\\nslash": digest, "new\nline": digest, "odd\x85name": digest,
    }  # fmt: skip
