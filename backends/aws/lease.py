"""The fleet lock on AWS: a lease tag (``molt:lease``) on the listener whose default
action Molt owns, with its holder and an expiry.

Tags have no compare-and-swap, so taking the lease is write, wait, read back: of two
Molts that write at the same moment, the one whose tag is read back wins and the other
is refused naming it. What is left — a writer slower than the settle time — is caught
by the listener check right before ``ModifyListener`` (see ``resources.set_forward``).

A lease not renewed before its expiry (its holder stopped without dying) is free: the
next taker overwrites the tag, and the old holder's next renewal raises ``Locked``
(``lost``), naming the new holder if there is one. A renewal is written and read back
like a take, so of a renewal and a takeover racing, one finds out it lost. Expiries
are written in whole seconds, rounded up: a lease never ends before its TTL.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime

from backends.aws.api import AwsApi
from backends.aws.naming import elb_tag_value
from backends.core.locking import FLEET_LOCK, Lease, Locked
from backends.core.model import utcnow

TAG = "molt:lease"  # the fleet lock; other locks add their name: molt:lease:rollout
SETTLE = 1.0  # seconds between writing the tag and reading it back
GIVE_BACK_MARGIN = 15.0  # a lease with less life left is not removed: the removal might land late
FIELDS = ("t", "s", "e", "r", "o", "a")  # token, since, expires, record, host, action


def encode(lease: Lease) -> str:
    """``t=… s=… e=… r=… o=… a=… h=…``: what ELBv2 accepts in a tag value (the holder,
    which may be long, goes last and is cut to fit)."""
    parts = [
        f"t={lease.token}",
        f"s={int(lease.since.timestamp())}",
        f"e={math.ceil(lease.expires.timestamp())}",
        f"r={lease.record}",
        "o=" + elb_tag_value(lease.host).replace(" ", "_"),
        "a=" + elb_tag_value(lease.action).replace(" ", "_"),
    ]
    head = " ".join(parts)
    return (head + " h=" + elb_tag_value(lease.holder))[:256]


def tag_of(lock: str) -> str:
    return TAG if lock == FLEET_LOCK else f"{TAG}:{lock}"


def decode(value: str, lock: str = FLEET_LOCK) -> Lease | None:
    head, _, holder = value.partition(" h=")
    fields = dict(part.partition("=")[::2] for part in head.split())
    try:
        return Lease(
            token=fields["t"],
            holder=holder,
            host=fields.get("o", "").replace("_", " "),
            action=fields.get("a", "").replace("_", " "),
            record=fields.get("r", ""),
            since=datetime.fromtimestamp(int(fields["s"]), UTC),
            expires=datetime.fromtimestamp(int(fields["e"]), UTC),
            lock=lock,
        )
    except (KeyError, ValueError):
        return None


class ListenerLease:
    def __init__(self, api: AwsApi, fleet: str, listener_arn: str) -> None:
        self.api = api
        self.fleet = fleet
        self.arn = listener_arn

    async def holder(self, lock: str = FLEET_LOCK) -> Lease | None:
        """The lease on the listener, unless it has expired."""
        lease = await self._tagged(lock)
        return lease if lease is not None and not lease.expired else None

    async def holders(self, locks: Sequence[str]) -> dict[str, Lease | None]:
        """Who holds each of ``locks``, in one ``DescribeTags`` (expired: nobody)."""
        found = await self._all_tagged(locks)
        return {
            lock: lease if lease and not lease.expired else None for lock, lease in found.items()
        }

    async def _tagged(self, lock: str) -> Lease | None:
        """The lease tag on the listener, expired or not."""
        return (await self._all_tagged([lock]))[lock]

    async def _all_tagged(self, locks: Sequence[str]) -> dict[str, Lease | None]:
        answer = await self.api.call(
            "elbv2", "describe_tags", f"listener {self.arn}", ResourceArns=[self.arn]
        )
        tags = {
            str(tag.get("Key")): str(tag.get("Value", ""))
            for description in answer.get("TagDescriptions", [])
            for tag in description.get("Tags", [])
        }
        return {
            lock: decode(tags[tag_of(lock)], lock) if tag_of(lock) in tags else None
            for lock in locks
        }

    async def _write(self, lease: Lease) -> None:
        await self.api.call(
            "elbv2",
            "add_tags",
            f"listener {self.arn}",
            ResourceArns=[self.arn],
            Tags=[{"Key": tag_of(lease.lock), "Value": encode(lease)}],
        )

    async def take(self, lease: Lease) -> Lease:
        """Ours unless a live lease of someone else is on the listener (an expired one
        is taken over)."""
        current = await self.holder(lease.lock)
        if current is not None and current.token != lease.token:
            raise Locked(self.fleet, current)
        await self._write(lease)
        await asyncio.sleep(SETTLE)
        again = await self._tagged(lease.lock)  # ours, however short its TTL, or lost
        if again is None or again.token != lease.token:
            raise Locked(self.fleet, again, lease.lock)
        return lease

    async def renew(self, lease: Lease) -> Lease:
        """The lease pushed on by its TTL; ``Locked`` (``lost``) once it expired or was
        taken over — a renewal never brings a lapsed lease back."""
        current = await self._tagged(lease.lock)
        if current is None or current.token != lease.token or current.expired:
            raise self._lost(lease, current)
        renewed = lease.renewed()
        await self._write(renewed)
        await asyncio.sleep(SETTLE)  # as when taking it: a takeover written meanwhile wins
        again = await self._tagged(lease.lock)
        if again is None or again.token != lease.token:
            raise self._lost(lease, again)
        return renewed

    def _lost(self, lease: Lease, found: Lease | None) -> Locked:
        holder = found if found is not None and found.token != lease.token else None
        if holder is not None and holder.expired:
            holder = None
        return Locked(self.fleet, holder, lease.lock, lost=lease)

    async def give_back(self, lease: Lease) -> None:
        """Remove the tag only while it is ours and live for a while yet. Tags have no
        compare-and-swap, but a live lease is never taken over: so nobody can have
        written theirs between this read and the removal. An expired one is left as it
        is (it is free anyway): a Molt taking it over now must never lose its own."""
        current = await self._tagged(lease.lock)
        left = (current.expires - utcnow()).total_seconds() if current is not None else 0.0
        margin = min(GIVE_BACK_MARGIN, lease.ttl / 3)  # renewed every third: more is left
        if current is not None and current.token == lease.token and left > margin:
            await self.api.call(
                "elbv2",
                "remove_tags",
                f"listener {self.arn}",
                ResourceArns=[self.arn],
                TagKeys=[tag_of(lease.lock)],
            )
