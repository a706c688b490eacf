"""Proof of immutability on the local backend: a file edited, a mode changed or a link
added in a generation's frozen tree is named by ``molt verify``; an artifact whose link
leads outside it is refused at launch."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3

import pytest

from backends.core.manifest import MANIFEST_NAME, build_manifest, manifest_digest
from backends.local.demo import demo_artifact
from tests.support.local import agent_pids, molt, molt_json, wait_for

pytestmark = pytest.mark.slow


def test_verify_names_a_mode_change_and_an_added_link(state_dir):
    assert molt(state_dir, "verify", "web").stdout.strip() == "g1: clean (1 host checked)"
    tree = state_dir / "fleets" / "web" / "g1" / "tree"
    (tree / "app.py").chmod(0o755)  # made executable, content untouched
    tree.chmod(0o755)
    (tree / "app.cfg").symlink_to("/etc/hostname")
    done = molt(state_dir, "verify", "web")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "g1: local: added app.cfg",
        "g1: local: changed app.py",
    ]
    (app := tree / "app.py").chmod(0o444)  # put back by hand: the generation stays tainted
    (tree / "app.cfg").unlink()
    tree.chmod(0o555)
    status = molt_json(state_dir, "status", "web")["generations"][0]
    assert status["tainted"]
    assert status["drift"] == ["local: added app.cfg", "local: changed app.py"]
    assert molt(state_dir, "verify", "web").returncode == 0 and app.exists()
    assert molt_json(state_dir, "status", "web")["generations"][0]["tainted"]  # sticky
    shown = molt(state_dir, "status", "web").stdout
    assert "! g1 is tainted (retire it; launch a new generation): local: changed app.py" in shown


def test_verify_names_a_file_edited_by_hand(state_dir):
    assert molt(state_dir, "verify", "web").returncode == 0  # the demo fleet, clean
    app = state_dir / "fleets" / "web" / "g1" / "tree" / "app.py"
    mode = app.stat().st_mode
    app.chmod(0o644)
    with app.open("a") as edited:  # a hot fix typed in during an outage
        edited.write("\nDEBUG = True\n")
    app.chmod(mode)  # mode put back: only the content differs
    for _ in range(3):
        done = molt(state_dir, "verify", "web")
        assert done.returncode == 1
        assert done.stdout.splitlines() == ["g1: local: changed app.py"]
    status = molt_json(state_dir, "status", "web")["generations"][0]
    assert status["tainted"] and status["drift"] == ["local: changed app.py"]
    records = molt_json(state_dir, "history", "web")["records"]
    assert [r["action"] for r in records].count("verify") == 1  # journaled when it changed


def test_an_artifact_with_a_link_out_of_it_is_refused_at_launch(state_dir, tmp_path):
    artifact = shutil.copytree(demo_artifact(), tmp_path / "build")
    os.symlink("../../../etc/passwd", artifact / "users")
    done = molt(state_dir, "launch", "web", "--version", "v2", "--artifact", str(artifact))
    assert done.returncode == 2
    (said,) = done.stderr.strip().splitlines()
    assert "the link users → ../../../etc/passwd leads outside the artifact" in said
    generations = molt(state_dir, "status", "web").stdout
    assert "g2" not in generations


def _edit_and_forge(state_dir, manifest_of) -> None:
    """Edit app.py, then write the manifest ``manifest_of(tree)`` beside the tree."""
    home = state_dir / "fleets" / "web" / "g1"
    app = home / "tree" / "app.py"
    app.chmod(0o644)
    with app.open("a") as edited:
        edited.write("\nBACKDOOR = True\n")
    app.chmod(0o444)
    (home / MANIFEST_NAME).write_text(json.dumps(manifest_of(home / "tree")))


def test_a_manifest_recomputed_after_an_edit_is_drift(state_dir):
    assert molt(state_dir, "verify", "web").returncode == 0
    _edit_and_forge(state_dir, build_manifest)  # the hash of app.py recomputed in it
    done = molt(state_dir, "verify", "web")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "g1: local: changed manifest.json (differs from the digest journaled at launch)"
    ]
    assert molt_json(state_dir, "status", "web")["generations"][0]["tainted"]


def test_an_old_format_manifest_is_unverifiable_never_clean(state_dir):
    assert molt(state_dir, "verify", "web").returncode == 0
    tree = state_dir / "fleets" / "web" / "g1" / "tree"

    def old(root):  # the first format: a bare sha256 per regular file
        return {p: e["sha256"] for p, e in build_manifest(root).items() if "sha256" in e}

    _edit_and_forge(state_dir, old)
    tree.chmod(0o755)  # a mode change the old format cannot see
    done = molt(state_dir, "verify", "web")
    assert done.returncode == 1
    assert "g1: local: changed manifest.json (old format" in done.stdout
    assert "unverifiable" in done.stdout
    tree.chmod(0o555)


def test_a_journal_broken_before_the_launch_leaves_the_manifest_unverifiable(state_dir):
    """Someone with the store (state.db) but not the agent: a garbage line before the
    launch record breaks the chain, and the generations row is the same file — the tree,
    a recomputed manifest and the row edited together must not verify clean."""
    assert molt(state_dir, "verify", "web").returncode == 0
    _edit_and_forge(state_dir, build_manifest)
    forged = json.loads((state_dir / "fleets" / "web" / "g1" / MANIFEST_NAME).read_text())
    agent, _ = agent_pids(state_dir)
    assert agent is not None
    os.kill(agent, signal.SIGKILL)  # what the agent remembers goes with it
    wait_for(lambda: agent_pids(state_dir)[0] is None)
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        db.execute("INSERT INTO journal (seq, fleet, record) VALUES (0, 'web', 'garbage')")
        db.execute("UPDATE generations SET digest = ? WHERE id = 'g1'", (manifest_digest(forged),))
        db.commit()
    done = molt(state_dir, "verify", "web")
    assert "clean" not in done.stdout and done.returncode == 1, done.stdout
    assert "g1: local: changed manifest.json" in done.stdout
    assert "unverifiable" in done.stdout
