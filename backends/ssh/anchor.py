"""The SSH journal's head, anchored on the fleet's app hosts.

The journal lives on the LB host; whoever can write ``journal.jsonl`` there could
truncate it or rebuild its chain. After every append Molt writes the new head (count,
hash of the last line) to ``journal.head`` in the fleet's directory on every app host
other than the LB host, only ever forward (a smaller count never replaces a larger one,
under ``flock``). ``history --check`` takes the furthest head any reachable app host
holds: to hide an edit of the LB host's journal, one must also edit every app host.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence

from backends.core.chain import Anchor
from backends.ssh.connections import HostConnection, HostPool
from backends.ssh.settings import HostAddress

HEAD_NAME = "journal.head"
ANCHOR_TIMEOUT = 10.0


def write_script(fleet_dir: str, anchor: Anchor) -> str:
    """Move the host's head forward to ``anchor`` (never back)."""
    head = shlex.quote(posixpath.join(fleet_dir, HEAD_NAME))
    return (
        f"mkdir -p {shlex.quote(fleet_dir)} || exit 1; exec 9>>{head}.lock; "
        "flock -w 10 9 || exit 1; "
        f"old=$(cut -d' ' -f1 {head} 2>/dev/null); "
        'case "$old" in (""|*[!0-9]*) old=0;; esac; '
        f'[ "$old" -gt {anchor.count} ] && exit 0; '
        f"printf '%s %s\\n' {anchor.count} {anchor.head} > {head}.new && "
        f"mv -f {head}.new {head}"
    )


class HostAnchors:
    """The journal's head on the app hosts (every host but the LB host, if any)."""

    def __init__(
        self, pool: HostPool, hosts: Sequence[HostAddress], lb: HostAddress, fleet_dir: str
    ) -> None:
        others = [h for h in hosts if h != lb]
        self.pool = pool
        self.hosts = others or list(hosts)
        self.fleet_dir = fleet_dir
        #: where ``history --check`` says the head is kept: with no host but the LB
        #: host, beside the journal itself, which whoever edits the journal can reach
        self.where = (
            "the app hosts"
            if others
            else "the LB host only (no other host: not out of reach of whoever edits the journal)"
        )

    async def advance(self, anchor: Anchor) -> int:
        """Write ``anchor`` on every app host; how many took it. A host that cannot be
        reached keeps its older head (the furthest one is what counts)."""

        async def write(conn: HostConnection) -> bool:
            done = await conn.run(write_script(self.fleet_dir, anchor), timeout=ANCHOR_TIMEOUT)
            return done.ok

        results = await self.pool.each(self.hosts, write)
        return sum(1 for r in results.values() if r is True)

    async def furthest(self) -> Anchor | None:
        """The furthest head any reachable app host holds (None: none holds one)."""
        path = shlex.quote(posixpath.join(self.fleet_dir, HEAD_NAME))

        async def read(conn: HostConnection) -> Anchor | None:
            done = await conn.run(f"cat {path} 2>/dev/null || true", timeout=ANCHOR_TIMEOUT)
            return Anchor.parse(done.stdout) if done.ok else None

        heads = [
            r for r in (await self.pool.each(self.hosts, read)).values() if isinstance(r, Anchor)
        ]
        return max(heads, key=lambda a: a.count) if heads else None
