"""What changed between two generations: their spec (version, artifact, count, note,
who and when) and what they were frozen from — files added, removed or changed (from
the manifests), or launch template fields (AWS). Pure: the CLI and the TUI both show it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backends.core.clock import iso
from backends.core.manifest import compare
from backends.core.model import FileChange, Generation


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing that differs: ``what`` (``version``, ``file app.py``…) before → after."""

    what: str
    before: str
    after: str
    change: str = "changed"  # changed | added | removed

    def text(self) -> str:
        if self.change == "added":
            return f"+ {self.what}"
        if self.change == "removed":
            return f"- {self.what}"
        return f"~ {self.what}: {self.before} → {self.after}"

    def to_json(self) -> dict[str, str]:
        return {
            "what": self.what,
            "before": self.before,
            "after": self.after,
            "change": self.change,
        }


def _spec(g: Generation) -> dict[str, str]:
    return {
        "version": g.version,
        "artifact": g.artifact,
        "digest": g.digest,
        "count": str(g.count or len(g.instances)),
        "note": g.note,
        "launched by": g.launched_by,
        "launched at": iso(g.launched_at) or "",
    }


def _flatten(data: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(data, Mapping):
        flat: dict[str, str] = {}
        for key in sorted(data):
            flat.update(_flatten(data[key], f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): str(data)}


def diff(
    a: Generation, b: Generation, frozen_a: Mapping[str, Any], frozen_b: Mapping[str, Any]
) -> list[Difference]:
    """Everything that differs from ``a`` to ``b``."""
    found = [
        Difference(key, before, after)
        for (key, before), after in zip(_spec(a).items(), _spec(b).values(), strict=True)
        if before != after
    ]
    manifest_a, manifest_b = frozen_a.get("manifest"), frozen_b.get("manifest")
    if isinstance(manifest_a, Mapping) and isinstance(manifest_b, Mapping):
        for path, change in compare(manifest_a, manifest_b):
            kind = {FileChange.ADDED: "added", FileChange.REMOVED: "removed"}.get(change, "changed")
            found.append(Difference(f"file {path}", "", "", kind))
    elif manifest_a is not None or manifest_b is not None:
        found.append(Difference("files", "unknown", "unknown (no manifest kept)", "changed"))
    template_a, template_b = frozen_a.get("template"), frozen_b.get("template")
    if isinstance(template_a, Mapping) and isinstance(template_b, Mapping):
        flat_a, flat_b = _flatten(template_a), _flatten(template_b)
        for key in sorted(set(flat_a) | set(flat_b)):
            if flat_a.get(key) != flat_b.get(key):
                found.append(
                    Difference(f"launch template {key}", flat_a.get(key, "—"), flat_b.get(key, "—"))
                )
    return found
