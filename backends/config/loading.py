"""molt.toml: which fleets exist and how each backend reaches them.

```toml
[fleets.web]                 # one table per fleet
backend = "local"            # local (default) | aws | ssh
listen = "127.0.0.1:9000"
artifact = "./app"           # paths are relative to this file
start = "{python} server.py --port {port}"
count = 2
[fleets.web.health]
path = "/healthz"
```

Each driver describes its settings as a frozen dataclass; :func:`parse_settings` checks
a TOML table against it, so an unknown key or a wrong type is an error naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import platformdirs

from backends.config import drivers
from backends.config.fleet_config import FleetConfig, MoltConfig
from backends.config.notify_settings import NotifySettings
from backends.core.durations import parse_duration
from backends.core.errors import ConfigError, shown
from backends.core.rollout import Plan

CONFIG_NAME = "molt.toml"
#: what a fleet may be called: it names directories, HAProxy servers and AWS resources
FLEET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: whole numbers beyond this are typos (and would fill a message with digits)
MAX_WHOLE = 10**18 - 1
#: the seconds each duration setting may take, by ``Class.field``: a floor keeps a typo
#: (``interval = 1e-9``) from burning a core or hammering an API, a cap from waiting
#: forever. Settings checked by their own class (rollout.bake, AWS health) are not here.
SECONDS_RANGES: dict[str, tuple[float, float]] = {
    "HealthSettings.interval": (0.1, 3600),
    "HealthSettings.timeout": (0.1, 600),
    "HealthSettings.start_period": (0, 86400),
    "LocalSettings.drain_timeout": (0, 86400),
    "SshSettings.connect_timeout": (0.5, 600),
    "SshSettings.drain_timeout": (0, 86400),
    "AwsSettings.poll_interval": (0.1, 3600),
    "AwsSettings.retire_timeout": (1, 86400),
    "RetrySettings.connect_timeout": (0.5, 600),
    "RetrySettings.read_timeout": (1, 3600),
}


def find_config(explicit: str | None) -> Path | None:
    """``--config``, else ``./molt.toml``, else the user config dir, else none (demo)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {shown(str(path))} does not exist")
        return path
    for candidate in (
        Path.cwd() / CONFIG_NAME,
        Path(platformdirs.user_config_dir("molt")) / CONFIG_NAME,
    ):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | None = None) -> MoltConfig:
    """Read and check molt.toml, or describe the built-in demo fleets when there is none."""
    path = find_config(explicit)
    if path is None:
        from backends.local.demo import demo_fleets  # only the demo needs the local driver

        return MoltConfig(fleets={demo.name: demo for demo in demo_fleets()})
    document = read_toml(path)
    fleets, notify = parse_fleets(document, path), parse_notify(document, path)
    if notify is not None:  # each fleet's sessions tell its news where [notify] says
        fleets = {name: dataclasses.replace(f, notify=notify) for name, f in fleets.items()}
    return MoltConfig(fleets=fleets, path=path, notify=notify)


def parse_notify(document: Mapping[str, Any], path: Path) -> NotifySettings | None:
    """The ``[notify]`` section (:mod:`backends.config.notify_settings`), if there is one."""
    if "notify" not in document:
        return None
    table = _table(document["notify"], "notify")
    settings: NotifySettings = parse_settings(NotifySettings, table, "notify", path.parent)
    return settings


def read_toml(path: Path) -> dict[str, Any]:
    """The document in ``path``, or one line saying why it cannot be read."""
    where = shown(str(path))
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where} is not valid TOML: {error}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{where} is not valid TOML: not UTF-8 text ({error.reason})") from None
    except ValueError:  # tomllib's int() of a number over 4300 digits
        raise ConfigError(f"{where} is not valid TOML: a number too long to read") from None
    except RecursionError:
        raise ConfigError(f"{where} is not valid TOML: nested too deeply") from None
    except OSError as error:
        raise ConfigError(f"cannot read {where}: {error.strerror}") from error


def parse_fleets(document: Mapping[str, Any], path: Path) -> dict[str, FleetConfig]:
    """Every ``[fleets.NAME]`` table of a molt.toml document, checked.

    Raises:
        ConfigError: one line naming the key (or the fleets) at fault.
    """
    where = shown(str(path))
    unknown = set(document) - {"fleets", "notify"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {sorted(unknown)[0]!r} "
            "(expected [fleets.NAME] tables and a [notify] section)"
        )
    tables = document.get("fleets")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{where}: no fleets; add a [fleets.NAME] table")
    fleets = {name: parse_fleet(name, table, path) for name, table in tables.items()}
    check_one_entry_per_fleet(fleets.values())
    return fleets


def parse_fleet(name: str, table: Any, path: Path) -> FleetConfig:
    """One ``[fleets.NAME]`` table: its backend and that backend's settings."""
    where = f"fleets.{_key(name)}"
    if not FLEET_NAME.fullmatch(name):
        raise ConfigError(
            f"{shown(str(path))}: [{where}]: a fleet name is lowercase letters, digits, - and _, "
            "starting with a letter or digit (e.g. web, api-eu)"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, not {_type_name(table)}")
    table = dict(table)
    backend = table.pop("backend", "local")
    if not isinstance(backend, str) or backend not in drivers.DRIVERS:
        choices = ", ".join(drivers.DRIVERS)
        raise ConfigError(f"{where}.backend must be one of {choices}, not {_value(backend)}")
    policy = _policy(table, where, path)
    cls = drivers.settings_class(backend)
    settings = parse_settings(cls, table, where, path.parent)
    return FleetConfig(name=name, backend=backend, settings=settings, source=str(path), **policy)


def _policy(table: dict[str, Any], where: str, path: Path) -> dict[str, Any]:
    """The keys every backend shares (taken out of ``table``): ``[rollout]``,
    ``verify_interval`` (seconds), ``max_age`` (``"30 days"``) and ``lease_ttl``
    (seconds a Molt that stops without dying keeps a fleet's locks)."""
    policy: dict[str, Any] = {}
    if "rollout" in table:
        policy["rollout"] = parse_settings(
            Plan, _table(table.pop("rollout"), where + ".rollout"), f"{where}.rollout", path.parent
        )
    if "verify_interval" in table:
        interval = _convert(
            float, table.pop("verify_interval"), f"{where}.verify_interval", path.parent
        )
        if not 10 <= interval <= 7 * 86400:
            raise ConfigError(f"{where}.verify_interval must be 10 seconds to a week")
        policy["verify_interval"] = interval
    if "max_age" in table:
        value = table.pop("max_age")
        try:
            policy["max_age"] = parse_duration(value if isinstance(value, str) else "")
        except ValueError:
            raise ConfigError(
                f'{where}.max_age looks like "30 days" or "12h", not {_value(value)}'
            ) from None
    if "lease_ttl" in table:
        ttl = _convert(float, table.pop("lease_ttl"), f"{where}.lease_ttl", path.parent)
        if not 2 <= ttl <= 3600:
            raise ConfigError(f"{where}.lease_ttl must be 2 seconds to an hour, e.g. 60")
        policy["lease_ttl"] = ttl
    return policy


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table, not {_type_name(value)}")
    return value


def check_one_entry_per_fleet(fleets: Iterable[FleetConfig]) -> None:
    """Two fleets behind one HAProxy backend would add, weigh and delete each other's
    servers: refuse it, naming both."""
    seen: dict[tuple[str, int, str], str] = {}
    for fleet in fleets:
        lb = getattr(fleet.settings, "lb", None) if fleet.backend == "ssh" else None
        if lb is None:
            continue
        host = lb.address
        entry = (host.address.lower(), host.port, lb.backend)
        if entry in seen:
            raise ConfigError(
                f"fleets.{seen[entry]} and fleets.{fleet.name} both use HAProxy backend "
                f"{lb.backend!r} on {host.display} (lb.host, lb.backend); "
                "give each fleet a backend of its own"
            )
        seen[entry] = fleet.name


def parse_settings(cls: type[Any], table: Mapping[str, Any], where: str, base: Path) -> Any:
    """Build the frozen dataclass ``cls`` from a TOML table, naming any bad key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(
                f"unknown key {where}.{_key(key)} (known: {', '.join(sorted(known))})"
            )
    values = {}
    for name, spec in known.items():
        if name not in table:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing key {where}.{name}")
            continue
        values[name] = _convert(hints[name], table[name], f"{where}.{name}", base)
        _check_range(f"{cls.__name__}.{name}", values[name], f"{where}.{name}")
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(_in_full(where, error.message, known)) from error


def _in_full(where: str, message: str, fields: Collection[str]) -> str:
    """A settings class's message with its key in full: ``count must be …`` of
    ``fleets.web`` reads ``fleets.web.count must be …``; ``health.path …`` of
    ``fleets.web.health`` reads ``fleets.web.health.path …``."""
    head = re.split(r"[ :]", message, maxsplit=1)[0].split(".")[0]
    parent, _, last = where.rpartition(".")
    if head in fields:
        return f"{where}.{message}"
    if parent and head == last:
        return f"{parent}.{message}"
    return f"{where}: {message}"


def _convert(hint: Any, value: Any, key: str, base: Path) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, key, base)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table, not {_type_name(value)}")
        return parse_settings(hint, value, key, base)  # type: ignore[arg-type]
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, not {_type_name(value)}")
        return tuple(_convert(item, v, f"{key}[{i}]", base) for i, v in enumerate(value))
    if hint is Path:
        return _path(value, key, base)
    if hint is float:
        return _seconds(value, key)
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise ConfigError(f"{key} must be {_type_name(hint())}, not {_type_name(value)}")
        if hint is int and not -MAX_WHOLE <= value <= MAX_WHOLE:
            raise ConfigError(f"{key} must be a whole number of at most 18 digits")
        return value
    raise ConfigError(f"{key}: unsupported setting type {hint}")  # a driver's mistake


def _check_range(setting: str, value: Any, key: str) -> None:
    """A duration within :data:`SECONDS_RANGES` (one line naming the key and the range)."""
    bounds = SECONDS_RANGES.get(setting)
    if bounds is None or value is None:
        return
    low, high = bounds
    if not low <= value <= high:
        raise ConfigError(f"{key} must be {low:g} to {high:g} seconds, not {value:g}")


def _path(value: Any, key: str, base: Path) -> Path:
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a path string, not {_type_name(value)}")
    if not value or "\0" in value:
        raise ConfigError(f"{key} must be a path, not {_value(value)}")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # ~name of a user this machine does not know
        raise ConfigError(
            f"{key}: {_value(value)} names a home directory this machine does not have"
        ) from None
    return path if path.is_absolute() else (base / path).resolve()


def _seconds(value: Any, key: str) -> float:
    """A number setting as a float: nan, inf and numbers too large for one refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key} must be a number, not {_type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        shown_value = value if isinstance(value, float) else "a number that large"
        raise ConfigError(f"{key} must be a finite number, not {shown_value}")
    return number


def _key(name: str) -> str:
    """A table key as molt.toml would spell it: bare when it can be, else quoted."""
    return name if BARE_KEY.fullmatch(name) else shown(json.dumps(name, ensure_ascii=False))


def _value(value: Any) -> str:
    """A value from molt.toml, quoted and escaped, cut to a readable length."""
    if isinstance(value, int) and value.bit_length() > 200:  # repr() refuses huge numbers
        return "a number too large to show"
    try:
        text = repr(value)
    except ValueError:  # a huge number inside a list or table: repr() refuses it there too
        return f"{_type_name(value)} holding a number too large to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
