"""``molt init``: write a commented molt.toml for one backend, checked by the same loader
that reads it, never over an existing file."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from backends.config.examples import example
from backends.config.loading import FLEET_NAME, load_config
from backends.core.errors import ConfigError, Refused, shown


def init(args: argparse.Namespace) -> int:
    path = Path(args.config or "molt.toml")
    if path.exists() or path.is_symlink():
        raise Refused(f"{shown(str(path))} already exists; molt init never overwrites one")
    if not path.parent.is_dir():
        raise ConfigError(f"no directory {shown(str(path.parent))} to write molt.toml in")
    if not FLEET_NAME.fullmatch(args.name):
        raise ConfigError(
            f"a fleet name is lower-case letters, digits, - and _, not {shown(repr(args.name))}"
        )
    text = example(args.backend, args.name)
    # checked where it will live (paths in it are relative to it), then linked into place:
    # os.link fails if another writer got there first, so nothing is ever overwritten
    handle, draft = tempfile.mkstemp(prefix=".molt-init-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        load_config(draft)
        try:
            os.link(draft, path)
        except FileExistsError:
            raise Refused(f"{shown(str(path))} appeared meanwhile; not overwritten") from None
    finally:
        os.unlink(draft)
    print(f"wrote {path} (fleet {args.name}, backend {args.backend}): edit it, then `molt status`")
    return 0
