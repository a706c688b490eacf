"""Hand edits noticed as they happen (local backend): the agent watches every live
generation's home with file-system notifications (:mod:`watchfiles`), and a change in a
frozen tree or its manifest is verified at once. New drift is journaled as a ``verify``
record by the agent itself, so every Molt — ``molt status``, another operator's TUI —
shows the generation tainted within seconds, not at the next ``verify_interval``.

SSH and AWS hosts are not watched from here: they keep the interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import Change, awatch

from backends.core.events import OperatorAction
from backends.core.journal import JournalRecord, Outcome, parse_line
from backends.core.manifest import MANIFEST_NAME
from backends.core.model import Lifecycle
from backends.core.taint import findings, taints
from backends.local.runtime import FleetRuntime

log = logging.getLogger("molt.agent")

#: who the journal says noticed the drift
OPERATOR = "molt-agent"
#: milliseconds of quiet before a burst of changes is checked (an editor's save is
#: several events); small, so a taint shows within a second or two
DEBOUNCE_MS = 300
#: seconds between looks for generations launched or retired (the watch then restarts)
RESCAN_EVERY = 1.0

Journal = Callable[[JournalRecord], None]


class DriftWatch:
    """Watches one fleet's generation homes and journals drift the moment it appears.

    Args:
        runtime: the fleet, as the agent runs it (its generations and their homes).
        journal: seals and stores a record on the fleet's chain (the agent's own door).
    """

    def __init__(self, runtime: FleetRuntime, journal: Journal) -> None:
        self.runtime = runtime
        self.journal = journal
        self._known: dict[str, tuple[str, ...]] | None = None

    async def run(self) -> None:
        """Watch the live generations' homes (not the fleet's logs: a noisy instance
        would keep the watch busy), each checked whole as soon as it is watched (an edit
        made before — while no agent ran, or while the watch restarted for a generation
        launched or retired), then whenever its tree changes; until cancelled."""
        while True:
            watched = self._homes()
            try:
                if watched:
                    await self._watch(watched, fresh=watched)
                else:
                    await asyncio.sleep(RESCAN_EVERY)
            except Exception as error:  # e.g. out of inotify watches: the interval applies
                log.warning("cannot watch %s for hand edits (%s)", self.runtime.home, error)
                await asyncio.sleep(RESCAN_EVERY * 10)

    def _homes(self) -> frozenset[str]:
        """The active generations (a launching one's tree is still the agent's to copy,
        or to remove when its launch fails; a draining one's to remove) whose homes exist.
        An edit made while launching is found when it turns active: the set changes, and
        the watch restarts with every tree checked whole."""
        return frozenset(
            g.row.id
            for g in self.runtime.generations.values()
            if g.lifecycle is Lifecycle.ACTIVE and (self.runtime.home / g.row.id).is_dir()
        )

    async def _watch(self, watched: frozenset[str], fresh: frozenset[str]) -> None:
        """Check each generation whose tree changes, until the set of homes does. The
        ``fresh`` ones are checked whole at the first wake-up: the watch is in place by
        then, so an edit is either seen by that check or notified after it."""
        paths = [self.runtime.home / g for g in sorted(watched)]
        async for changes in awatch(
            *paths,
            watch_filter=lambda _change, path: self._generation_of(path) is not None,
            debounce=DEBOUNCE_MS,
            step=50,
            rust_timeout=int(RESCAN_EVERY * 1000),
            yield_on_timeout=True,  # an empty set every RESCAN_EVERY: look for new homes
            ignore_permission_denied=True,
        ):
            for generation_id in sorted(self._touched(changes) | fresh):
                await self.check(generation_id)
            fresh = frozenset()
            if self._homes() != watched:
                return

    def _generation_of(self, path: str) -> str | None:
        """``g3`` for a path inside ``HOME/g3/tree`` or ``HOME/g3/manifest.json``."""
        try:
            parts = Path(path).relative_to(self.runtime.home).parts
        except ValueError:
            return None
        if len(parts) >= 2 and parts[1] in ("tree", MANIFEST_NAME):
            return parts[0]
        return None

    def _touched(self, changes: Iterable[tuple[Change, str]]) -> set[str]:
        found = {self._generation_of(path) for _, path in changes}
        return {g for g in found if g is not None}

    async def check(self, generation_id: str) -> None:
        """Verify one generation; journal (and announce) what drift is new."""
        generation = self.runtime.generations.get(generation_id)
        if generation is None or generation.lifecycle is not Lifecycle.ACTIVE:
            return  # unknown, or its tree is the agent's to make or remove
        manifest = self.runtime.home / generation_id / MANIFEST_NAME
        if not await asyncio.to_thread(manifest.exists):
            return  # still being frozen: the manifest is written last
        try:
            report = await self.runtime.verify(generation_id)
        except Exception as error:  # a tree half removed, a manifest half written
            log.info("drift check of %s/%s skipped: %s", self.runtime.name, generation_id, error)
            return
        found = findings(report)
        if not found:
            return
        known = self._taints().get(generation_id, ())
        new = [line for line in found if line not in known]
        if not new:
            return
        self._taints()[generation_id] = (*known, *new)
        record = JournalRecord(
            fleet=self.runtime.name,
            action="verify",
            operator=OPERATOR,
            args={"generation": generation_id, "drift": found, "noticed": "file watch"},
            weights_before=self.runtime.snapshot().weights,
        ).finished(Outcome.OK, "tainted: the tree differs from its manifest")
        self.journal(record)
        self.runtime.publish(OperatorAction(fleet=self.runtime.name, record=record))
        log.warning("%s/%s tainted: %s", self.runtime.name, generation_id, "; ".join(new))

    def _taints(self) -> dict[str, tuple[str, ...]]:
        """Drift already journaled, per generation (read once, then kept up to date)."""
        if self._known is None:  # one write at a time: a long journal is never held whole
            rows = self.runtime.store.journal_after(self.runtime.name, None)
            verifies = (parse_line(line) for _, line in rows if '"verify"' in line)
            self._known = dict(taints([r for r in verifies if r is not None]))
        return self._known
