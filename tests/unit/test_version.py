"""``molt --version`` outside an installed package: the source tree's pyproject.toml."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from tui.cli import main as cli


def test_version_falls_back_to_the_source_trees_pyproject(monkeypatch):
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    pyproject = Path(cli.__file__).resolve().parents[2] / "pyproject.toml"
    expected = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert cli.molt_version() == expected
