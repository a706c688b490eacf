"""What changed between two generations: their spec (version, artifact, count, note,
who and when) and what they were frozen from — files added, removed or changed (from
the manifests), or launch template fields (AWS). Pure: the CLI and the TUI both show it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backends.core.clock import iso
from backends.core.journal import JournalRecord, Outcome
from backends.core.manifest import compare
from backends.core.model import FileChange, Generation, GenerationState


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


#: a launch record leaves these out when the fleet's default was used: empty is unknown
UNKNOWN_WHEN_EMPTY = ("artifact", "digest", "count")


def as_launched(records: Iterable[JournalRecord], generation: str) -> Generation | None:
    """``generation`` as the journal kept it at launch — all that is left of a retired
    one: version, artifact, digest, count, note, who and when (a verified record only)."""
    for record in records:
        args = record.args
        if (
            record.action == "launch"
            and record.outcome is Outcome.OK
            and not record.unverified
            and args.get("generation") == generation
        ):
            return Generation(
                id=generation,
                version=str(args.get("version", "")),
                state=GenerationState.RETIRED,
                weight=0,
                launched_at=record.at,
                launched_by=record.operator,
                note=str(args.get("note") or ""),
                count=int(args.get("count") or 0),
                artifact=str(args.get("artifact") or ""),
                digest=str(args.get("digest") or ""),
            )
    return None


def _spec(g: Generation) -> dict[str, str]:
    return {
        "version": g.version,
        "artifact": g.artifact,
        "digest": g.digest,
        "count": str(g.count or len(g.instances) or ""),
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
        if before != after and not (key in UNKNOWN_WHEN_EMPTY and "" in (before, after))
    ]
    manifest_a, manifest_b = frozen_a.get("manifest"), frozen_b.get("manifest")
    if isinstance(manifest_a, Mapping) and isinstance(manifest_b, Mapping):
        for path, change in compare(manifest_a, manifest_b):
            kind = {FileChange.ADDED: "added", FileChange.REMOVED: "removed"}.get(change, "changed")
            found.append(Difference(f"file {path}", "", "", kind))
    elif (manifest_a is not None or manifest_b is not None) and not (a.digest and b.digest):
        # one manifest only (a retired generation's went with it): the digests, when both
        # were journaled, already say whether the files differ
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
