"""A generation's frozen tree on disk: copied once, manifested, read-only, removed whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from backends.core.manifest import (
    MANIFEST_NAME,
    build_manifest,
    check_links,
    compare,
    make_read_only,
    make_writable,
    manifest_digest,
)
from backends.core.model import FileChange, FileDrift
from backends.core.proofs import manifest_drift


def freeze(artifact: Path, home: Path) -> str:
    """Copy ``artifact`` to ``home/tree`` (links as links; one leading outside the
    artifact is refused), drop every write bit, then write the manifest of the sealed
    tree beside it."""
    check_links(artifact)
    tree = home / "tree"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(artifact, tree, symlinks=True)
    make_read_only(tree)
    manifest = build_manifest(tree)
    (home / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest_digest(manifest)


def tree_drift(home: Path, journaled: str, kept: str, *, doubtful: bool = False) -> list[FileDrift]:
    """The tree against the manifest beside it, and that manifest against the digest
    the launch journaled (``kept``: the store's, for a launch that journaled none and
    is not ``doubtful``: see :class:`~backends.core.proofs.LaunchProof`)."""
    try:
        expected = json.loads((home / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        return [FileDrift("local", MANIFEST_NAME, FileChange.REMOVED)]
    except ValueError:
        expected = None
    found = manifest_drift("local", expected, journaled, kept, doubtful=doubtful)
    if not isinstance(expected, dict):
        return found
    actual = build_manifest(home / "tree")
    return found + [FileDrift("local", p, change) for p, change in compare(expected, actual)]


def remove_tree(home: Path) -> None:
    if home.exists():
        make_writable(home)
        shutil.rmtree(home, ignore_errors=True)
