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
    launched = molt(state_dir, "launch", "web", "--version", "v2", "--artifact", str(build),
                    "--note", "checkout flag", "--count", "1")
    assert launched.returncode == 0, launched.stderr
    done = molt(state_dir, "diff", "web", "g1", "g2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "g1 (v1) → g2 (v2)"
    assert "~ version: v1 → v2" in lines
    assert "+ file feature_flags.json" in lines
    assert any(line.startswith("~ count: 2 → 1") for line in lines)
    assert any(line.startswith("~ note: built-in demo: first generation → checkout flag")
               for line in lines)
    assert not [line for line in lines if "app.py" in line]  # unchanged files are not listed


def test_diff_against_a_retired_generation_uses_what_the_journal_kept(state_dir):
    launched = molt(state_dir, "launch", "web", "--version", "v2", "--count", "1", "--wait")
    assert launched.returncode == 0, launched.stderr
    assert molt(state_dir, "promote", "web", "g2").returncode == 0
    retired = molt(state_dir, "retire", "web", "g1")
    assert retired.returncode == 0, retired.stderr
    done = molt(state_dir, "diff", "web", "g1", "g2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == [
        "g1 (v1) → g2 (v2)",
        "g1 retired: compared as journaled at launch (the digest stands for its files)",
    ]
    assert "~ version: v1 → v2" in lines
    assert "~ note: built-in demo: first generation → " in lines
    assert not [line for line in lines[2:] if "files" in line or "digest" in line]  # same artifact
    unknown = molt(state_dir, "diff", "web", "g9", "g2")
    assert unknown.returncode == 1 and "no generation g9" in unknown.stderr
