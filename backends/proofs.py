"""Proofs anchored outside what they prove: a generation's manifest is checked against
the digest journaled when it was launched, not only against itself.

A manifest sits beside the tree it describes, so whoever can edit the tree can edit
the manifest too; the journal (hash-chained, its head anchored elsewhere: see
:mod:`backends.chain`) is what says which manifest the launch made. Every backend's
``verify`` runs :func:`manifest_drift` on the manifest it found, so an edited file whose
hash was recomputed in the manifest — or a manifest of a format that cannot say
everything a tree holds — is drift, never clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from backends.journal import JournalRecord, Outcome
from backends.manifest import MANIFEST_NAME, manifest_digest
from backends.model import FileChange, FileDrift

FORGED = f"{MANIFEST_NAME} (differs from the digest journaled at launch)"
OLD_FORMAT = f"{MANIFEST_NAME} (old format without modes, links or directories: unverifiable)"
UNREADABLE = f"{MANIFEST_NAME} (not a manifest: unverifiable)"
UNKNOWN = f"{MANIFEST_NAME} (no digest journaled or kept at launch: unverifiable)"


def journaled_digest(records: Iterable[JournalRecord], generation: str) -> str:
    """The digest the launch that made ``generation`` journaled ("" if none did: a
    generation launched before Molt journaled digests). The first one journaled holds:
    a later write cannot move it."""
    for record in records:
        if (
            record.action == "launch"
            and record.outcome is Outcome.OK
            and record.args.get("generation") == generation
            and record.args.get("digest")
        ):
            return str(record.args["digest"])
    return ""


def old_format(manifest: Mapping[str, Any]) -> bool:
    """A manifest written before links, directories and modes were recorded: its
    entries are bare sha256 strings (or files without a mode)."""
    return any(
        not isinstance(entry, dict) or ("sha256" in entry and "mode" not in entry)
        for entry in manifest.values()
    )


def manifest_problem(manifest: Any, journaled: str, kept: str = "") -> str:
    """What is wrong with the manifest found beside a tree ("" if it is the one the
    launch made). ``journaled``: the digest from the journal; ``kept``: the digest the
    backend's own store kept, used only for a generation whose launch journaled none."""
    if not isinstance(manifest, dict):
        return UNREADABLE
    if old_format(manifest):
        return OLD_FORMAT
    expected = journaled or kept
    if not expected:
        return UNKNOWN
    return "" if manifest_digest(manifest) == expected else FORGED


def manifest_drift(host: str, manifest: Any, journaled: str, kept: str = "") -> list[FileDrift]:
    """:func:`manifest_problem` as drift on ``host`` (empty when the manifest holds)."""
    problem = manifest_problem(manifest, journaled, kept)
    return [FileDrift(host, problem, FileChange.CHANGED)] if problem else []
