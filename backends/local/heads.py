"""The local journals' heads, kept by the agent outside the SQLite store.

The agent is the journal's one writer: it keeps each fleet's head (count, hash of the
last line) in memory and in ``journal-heads.json`` beside the store, written after every
append (atomically: a temporary file renamed over it). ``history --check`` holds the
store's head against the agent's, so a store edited alone — rows deleted, rewritten and
re-hashed, inserted — fails. Whoever can also edit this file while the agent is down
(the same user) can move both; the README says so.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from backends.core.chain import Anchor, hash_of

HEADS_NAME = "journal-heads.json"

log = logging.getLogger("molt.agent")


class Heads:
    """Fleet → anchored head; read once when the agent starts."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / HEADS_NAME
        self._heads: dict[str, Anchor] = {}
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as error:
            log.warning("cannot read %s (%s): journal heads start unanchored", self.path, error)
            data = {}
        for fleet, raw in (data.items() if isinstance(data, dict) else ()):
            anchor = Anchor.from_json(raw)
            if anchor is not None:
                self._heads[str(fleet)] = anchor

    def get(self, fleet: str) -> Anchor | None:
        return self._heads.get(fleet)

    def advance(self, fleet: str, line: str, stored: int, *, before: str) -> None:
        """``line`` was appended to ``fleet``'s journal after the line whose hash is
        ``before``. A fleet with no anchor yet is anchored from the store as it is now
        (``stored`` lines, this one included). An anchored head that is not the line
        this one follows (the agent died between an append and saving its head, or the
        store was written outside the agent) stays where it is: ``history --check``
        names the records beyond it, where moving it by one would anchor a count and a
        hash that never went together (a false "re-chained" from then on)."""
        known = self._heads.get(fleet)
        if known is None:
            self._heads[fleet] = Anchor(stored, hash_of(line))
        elif known.head == before:
            self._heads[fleet] = known.after(line)
        else:
            log.warning(
                "the journal of %s does not follow its anchored head (record %d): the "
                "head stays there",
                fleet,
                known.count,
            )
            return
        self._save()

    def _save(self) -> None:
        text = json.dumps({f: a.to_json() for f, a in sorted(self._heads.items())})
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(text)
        os.chmod(partial, 0o600)
        os.replace(partial, self.path)
