"""Manifests of frozen artifacts: sha256 per file, and how a tree differs from one.

A generation's tree never changes after launch; ``verify`` recomputes the hashes and
reports every file changed, added or removed since.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from backends.model import FileChange

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 16


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(root: Path) -> dict[str, str]:
    """``{relative/path: sha256}`` for every regular file under ``root``, sorted."""
    entries = {}
    for directory, _subdirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                entries[path.relative_to(root).as_posix()] = file_sha256(path)
    return dict(sorted(entries.items()))


def manifest_digest(manifest: Mapping[str, str]) -> str:
    """One sha256 naming the whole artifact (what the TUI shows as its digest)."""
    canonical = json.dumps(dict(sorted(manifest.items())), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def compare(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[tuple[str, FileChange]]:
    """Files whose content changed, appeared or disappeared, sorted by path."""
    changes = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            changes.append((path, FileChange.REMOVED))
        elif path not in expected:
            changes.append((path, FileChange.ADDED))
        elif expected[path] != actual[path]:
            changes.append((path, FileChange.CHANGED))
    return changes


def make_read_only(root: Path) -> None:
    """Drop every write bit under ``root`` (directories last, so the walk still works)."""
    for directory, _subdirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
        Path(directory).chmod(Path(directory).stat().st_mode & ~0o222)


def make_writable(root: Path) -> None:
    """Restore write bits for the owner so a retired tree can be removed."""
    for directory, _subdirs, files in os.walk(root):
        Path(directory).chmod(Path(directory).stat().st_mode | 0o700)
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
