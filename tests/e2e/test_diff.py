"""``molt diff`` names what changed between two generations, from their manifests."""

from __future__ import annotations

import shutil

import pytest

from backends.local.demo import demo_artifact
from tests.support.local import molt

pytestmark = pytest.mark.slow


def test_diff_names_a_file_added_between_two_generations(state_dir, tmp_path):
    build = shutil.copytree(demo_artifact(), tmp_path / "build")
    (build / "feature_flags.json").write_text('{"checkout": true}\n')
    launched = molt(state_dir, "launch", "demo", "--version", "v2", "--artifact", str(build),
                    "--note", "checkout flag", "--count", "1")
    assert launched.returncode == 0, launched.stderr
    done = molt(state_dir, "diff", "demo", "g1", "g2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "g1 (v1) → g2 (v2)"
    assert "~ version: v1 → v2" in lines
    assert "+ file feature_flags.json" in lines
    assert any(line.startswith("~ count: 2 → 1") for line in lines)
    assert any(line.startswith("~ note: built-in demo: first generation → checkout flag")
               for line in lines)
    assert not [line for line in lines if "app.py" in line]  # unchanged files are not listed
