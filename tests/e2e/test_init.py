"""``molt init``: a commented molt.toml per backend that Molt itself loads, written only
where none exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.config.loading import load_config
from tests.support.local import molt


@pytest.mark.parametrize("backend", ["local", "ssh", "aws"])
def test_init_writes_a_commented_molt_toml_that_loads(state_dir: Path, tmp_path: Path, backend):
    done = molt(state_dir, "init", "--backend", backend, "--name", "shop", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "molt.toml" in done.stdout and "shop" in done.stdout
    written = tmp_path / "molt.toml"
    comments = [line for line in written.read_text().splitlines() if line.startswith("#")]
    assert len(comments) >= 5  # it explains itself
    fleet = load_config(written).fleet("shop")
    assert fleet.backend == backend
    assert [p.name for p in tmp_path.iterdir()] == ["molt.toml"]  # no draft left behind


def test_init_never_overwrites(state_dir: Path, tmp_path: Path):
    mine = tmp_path / "molt.toml"
    mine.write_text("# my own\n")
    done = molt(state_dir, "init", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == "molt: molt.toml already exists; molt init never overwrites one\n"
    assert mine.read_text() == "# my own\n"


def test_init_refuses_a_name_no_fleet_can_have(state_dir: Path, tmp_path: Path):
    done = molt(state_dir, "init", "--name", "Bad Name", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'Bad Name'" in done.stderr
    assert list(tmp_path.iterdir()) == []
