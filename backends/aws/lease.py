"""The fleet lock on AWS: a lease tag (``molt:lease``) on the listener whose default
action Molt owns, with its holder and an expiry.

Tags have no compare-and-swap, so taking the lease is write, wait, read back: of two
Molts that write at the same moment, the one whose tag is read back wins and the other
is refused naming it. What is left — a writer slower than the settle time — is caught
by the listener check right before ``ModifyListener`` (see ``resources.set_forward``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from backends.aws.api import AwsApi
from backends.aws.naming import elb_tag_value
from backends.locking import FLEET_LOCK, Lease, Locked

TAG = "molt:lease"  # the fleet lock; other locks add their name: molt:lease:rollout
SETTLE = 1.0  # seconds between writing the tag and reading it back
FIELDS = ("t", "s", "e", "r", "o", "a")  # token, since, expires, record, host, action


def encode(lease: Lease) -> str:
    """``t=… s=… e=… r=… o=… a=… h=…``: what ELBv2 accepts in a tag value (the holder,
    which may be long, goes last and is cut to fit)."""
    parts = [
        f"t={lease.token}",
        f"s={int(lease.since.timestamp())}",
        f"e={int(lease.expires.timestamp())}",
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
        answer = await self.api.call(
            "elbv2", "describe_tags", f"listener {self.arn}", ResourceArns=[self.arn]
        )
        for description in answer.get("TagDescriptions", []):
            for tag in description.get("Tags", []):
                if tag.get("Key") == tag_of(lock):
                    lease = decode(str(tag.get("Value", "")), lock)
                    return lease if lease is not None and not lease.expired else None
        return None

    async def _write(self, lease: Lease) -> None:
        await self.api.call(
            "elbv2",
            "add_tags",
            f"listener {self.arn}",
            ResourceArns=[self.arn],
            Tags=[{"Key": tag_of(lease.lock), "Value": encode(lease)}],
        )

    async def take(self, lease: Lease) -> Lease:
        current = await self.holder(lease.lock)
        if current is not None and current.token != lease.token:
            raise Locked(self.fleet, current)
        await self._write(lease)
        await asyncio.sleep(SETTLE)
        again = await self.holder(lease.lock)
        if again is None or again.token != lease.token:
            raise Locked(self.fleet, again, lease.lock)
        return lease

    async def renew(self, lease: Lease) -> Lease:
        current = await self.holder(lease.lock)
        if current is not None and current.token != lease.token:
            raise Locked(self.fleet, current)
        renewed = lease.renewed()
        await self._write(renewed)
        return renewed

    async def give_back(self, lease: Lease) -> None:
        current = await self.holder(lease.lock)
        if current is not None and current.token == lease.token:
            await self.api.call(
                "elbv2",
                "remove_tags",
                f"listener {self.arn}",
                ResourceArns=[self.arn],
                TagKeys=[tag_of(lease.lock)],
            )
