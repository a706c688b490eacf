"""Manifests of frozen artifacts: every file (sha256 and mode), link (its target) and
directory (its mode) of a generation's tree, and how a tree differs from one.

A generation's tree never changes after launch; ``verify`` reads it again and reports
every file, link or mode changed, added or removed since. Modes are recorded as they
are once the tree is sealed (every write bit dropped): a manifest built from the
artifact before upload says what the sealed tree on a host must look like.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.core.errors import ConfigError
from backends.core.model import FileChange

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 16
WRITE_BITS = 0o222

#: one tree entry: {"sha256": …, "mode": "0444"} | {"link": target} | {"dir": "0555"};
#: manifests written before links and modes were recorded hold a bare sha256 string
Entry = Any


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def mode_text(mode: int, *, seal: bool = False) -> str:
    """``0444``: permission bits as a manifest writes them (``seal``: as they will be
    once the tree is sealed, every write bit dropped)."""
    bits = stat.S_IMODE(mode)
    return f"{bits & ~WRITE_BITS if seal else bits:04o}"


def build_manifest(root: Path, *, seal: bool = False) -> dict[str, Entry]:
    """Every entry under ``root``, sorted by path. ``seal``: record modes as they will
    be once the tree is sealed (an artifact about to be uploaded); else as they are."""
    entries: dict[str, Entry] = {}
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        for name in [*subdirs, *files]:
            path = here / name
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = {"link": os.readlink(path)}
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = {"dir": mode_text(info.st_mode, seal=seal)}
            elif stat.S_ISREG(info.st_mode):
                mode = mode_text(info.st_mode, seal=seal)
                entries[relative] = {"sha256": file_sha256(path), "mode": mode}
            else:
                entries[relative] = {"special": stat.filemode(info.st_mode)}
    return dict(sorted(entries.items()))


def check_links(root: Path) -> None:
    """Refuse an artifact with a link that leads out of it (an absolute target, or one
    that climbs above the tree): a generation must carry everything it runs."""
    top = root.resolve()
    for directory, subdirs, files in os.walk(root):
        for name in [*subdirs, *files]:
            path = Path(directory) / name
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            landing = (path.parent / target).resolve()
            if os.path.isabs(target) or (landing != top and top not in landing.parents):
                relative = path.relative_to(root).as_posix()
                raise ConfigError(
                    f"artifact {root}: the link {relative} → {target} leads outside the "
                    "artifact; a generation must be self-contained (copy the file in instead)"
                )


def manifest_digest(manifest: Mapping[str, Entry]) -> str:
    """One sha256 naming the whole artifact (what the TUI shows as its digest)."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _comparable(entry: Entry, legacy: bool) -> Entry:
    """What of an entry is compared: only content for a manifest of the first format."""
    if legacy:
        return entry.get("sha256") if isinstance(entry, dict) else entry
    return entry


def compare(
    expected: Mapping[str, Entry], actual: Mapping[str, Entry]
) -> list[tuple[str, FileChange]]:
    """Entries changed (content, mode, link target, kind), added or removed, by path."""
    legacy = any(isinstance(v, str) for v in expected.values())
    if legacy:  # the first format knew regular files only
        actual = {p: e for p, e in actual.items() if isinstance(e, dict) and "sha256" in e}
    changes = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            changes.append((path, FileChange.REMOVED))
        elif path not in expected:
            changes.append((path, FileChange.ADDED))
        elif _comparable(expected[path], legacy) != _comparable(actual[path], legacy):
            changes.append((path, FileChange.CHANGED))
    return changes


def make_read_only(root: Path) -> None:
    """Drop every write bit under ``root`` (directories last, so the walk still works)."""
    for directory, _subdirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~WRITE_BITS)
        Path(directory).chmod(Path(directory).stat().st_mode & ~WRITE_BITS)


def make_writable(root: Path) -> None:
    """Restore write bits for the owner so a retired tree can be removed."""
    for directory, _subdirs, files in os.walk(root):
        Path(directory).chmod(Path(directory).stat().st_mode | 0o700)
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
