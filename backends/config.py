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
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

from backends import registry
from backends.errors import ConfigError
from backends.fleets import FleetConfig, MoltConfig

CONFIG_NAME = "molt.toml"


def find_config(explicit: str | None) -> Path | None:
    """``--config``, else ``./molt.toml``, else the user config dir, else none (demo)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    for candidate in (
        Path.cwd() / CONFIG_NAME,
        Path(platformdirs.user_config_dir("molt")) / CONFIG_NAME,
    ):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | None = None) -> MoltConfig:
    """Read and check molt.toml, or describe the built-in demo fleet when there is none."""
    path = find_config(explicit)
    if path is None:
        from backends.local.demo import demo_fleet  # only the demo needs the local driver

        demo = demo_fleet()
        return MoltConfig(fleets={demo.name: demo})
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    return MoltConfig(fleets=parse_fleets(document, path), path=path)


def parse_fleets(document: Mapping[str, Any], path: Path) -> dict[str, FleetConfig]:
    unknown = set(document) - {"fleets"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {sorted(unknown)[0]!r} (expected [fleets.NAME] tables)"
        )
    tables = document.get("fleets")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path}: no fleets; add a [fleets.NAME] table")
    fleets = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: fleets.{name} must be a table")
        table = dict(table)
        backend = table.pop("backend", "local")
        if backend not in registry.DRIVERS:
            choices = ", ".join(registry.DRIVERS)
            raise ConfigError(
                f"{path}: fleets.{name}.backend must be one of {choices}, not {backend!r}"
            )
        cls = registry.settings_class(backend)
        settings = parse_settings(cls, table, f"fleets.{name}", path.parent)
        fleets[name] = FleetConfig(name=name, backend=backend, settings=settings, source=str(path))
    return fleets


def parse_settings(cls: type[Any], table: Mapping[str, Any], where: str, base: Path) -> Any:
    """Build the frozen dataclass ``cls`` from a TOML table, naming any bad key."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown key {where}.{key} (known: {', '.join(sorted(known))})")
    values = {}
    for name, spec in known.items():
        if name not in table:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing key {where}.{name}")
            continue
        values[name] = _convert(hints[name], table[name], f"{where}.{name}", base)
    try:
        return cls(**values)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error.message}") from error


def _convert(hint: Any, value: Any, key: str, base: Path) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, key, base)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table")
        return parse_settings(hint, value, key, base)  # type: ignore[arg-type]
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, not {_type_name(value)}")
        return tuple(_convert(item, v, f"{key}[{i}]", base) for i, v in enumerate(value))
    if hint is Path:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a path string, not {_type_name(value)}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path).resolve()
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, not {_type_name(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, not {value}")
        return float(value)
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise ConfigError(f"{key} must be {_type_name(hint())}, not {_type_name(value)}")
        return value
    raise ConfigError(f"{key}: unsupported setting type {hint}")  # a driver's mistake


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
