"""One operator at a time: the fleet lock.

Every mutation takes the fleet's lock where the fleet's truth lives (the local agent;
a lock file held open on the LB host; a tag on the ALB listener) before it reads the
fleet, so two operators can never interleave a read-modify-write. The loser is refused
at once, naming who holds the lock, what for and since when.

A lease names its holder, its action and the journal record of that action, so a
*started* record whose lease is gone tells that Molt was stopped mid-action
(``interrupted``). Leases expire unless renewed; on the local and ssh backends they
also end the moment the holder's connection does.

A holder that stops without dying (SIGSTOP, a laptop lid shut) loses its lease once
its TTL has passed, on every backend: another Molt may then take the lock, and the
stopped holder's next :meth:`~backends.contract.Backend.renew` raises :class:`Locked`
(``lost`` set, naming the new holder if there is one), so the woken-up process knows
it must not act.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import humanize

from backends.core.errors import Refused
from backends.core.model import iso, parse_iso, utcnow

PUBLIC = "public:"  # the token of a lease as others see it (see Lease.public)
LEASE_TTL = 60.0  # seconds a lease lasts without renewal
FLEET_LOCK = "fleet"  # every mutation holds it while it acts
ROLLOUT_LOCK = "rollout"  # the process driving a rollout holds it until the rollout ends


@dataclass(frozen=True, slots=True)
class Lease:
    """The fleet lock, as one holder took it."""

    token: str
    holder: str  # the operator, as the backend knows them
    host: str  # where that Molt runs, and its pid
    action: str  # "retire g1", "shift g1=90 g2=10"
    record: str  # the journal record of the action
    since: datetime
    expires: datetime
    lock: str = FLEET_LOCK  # which of the fleet's locks
    ttl: float = LEASE_TTL  # seconds each renewal lasts

    @classmethod
    def new(
        cls,
        holder: str,
        action: str,
        record: str,
        ttl: float = LEASE_TTL,
        lock: str = FLEET_LOCK,
    ) -> Lease:
        now = utcnow()
        return cls(
            token=uuid.uuid4().hex[:12],
            holder=holder,
            host=f"{socket.gethostname()} pid {os.getpid()}",
            action=action,
            record=record,
            since=now,
            expires=now + timedelta(seconds=ttl),
            lock=lock,
            ttl=ttl,
        )

    def renewed(self, ttl: float | None = None) -> Lease:
        """The lease pushed on by ``ttl`` seconds from now (by default its own TTL)."""
        ttl = self.ttl if ttl is None else ttl
        return replace(self, expires=utcnow() + timedelta(seconds=ttl), ttl=ttl)

    @property
    def expired(self) -> bool:
        return utcnow() >= self.expires

    def public(self) -> Lease:
        """The lease as others may see it: its token proves who holds it, so it is
        replaced by a digest that only tells whether two leases are the same one."""
        if self.token.startswith(PUBLIC):
            return self
        return replace(self, token=PUBLIC + hashlib.sha256(self.token.encode()).hexdigest()[:16])

    def same(self, other: Lease) -> bool:
        """Is ``other`` (as the holder of a lock reads it) this lease of ours?"""
        return other.token in (self.token, self.public().token)

    def shown_json(self) -> dict[str, Any]:
        """What ``status --json`` shows: who, doing what, since when, until when — never
        the token."""
        data = self.to_json()
        del data["token"]
        return data

    def describe(self) -> str:
        """``alice (laptop pid 4242): retire g1, since 14:02:11 UTC (12 seconds ago)``"""
        ago = humanize.naturaldelta(max(utcnow() - self.since, timedelta(0)))
        return (
            f"{self.holder} ({self.host}): {self.action}, "
            f"since {self.since.strftime('%H:%M:%S')} UTC ({ago} ago)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "holder": self.holder,
            "host": self.host,
            "action": self.action,
            "record": self.record,
            "since": iso(self.since, precise=True),
            "expires": iso(self.expires, precise=True),
            "lock": self.lock,
            "ttl": self.ttl,
        }

    @classmethod
    def from_json(cls, data: Any) -> Lease | None:
        """The lease ``to_json`` wrote, or None for anything else (a torn file)."""
        try:
            since, expires = parse_iso(data["since"]), parse_iso(data["expires"])
            if since is None or expires is None:
                return None
            ttl = float(data.get("ttl", LEASE_TTL))
            if not ttl > 0:
                return None
            return cls(
                token=str(data["token"]),
                holder=str(data["holder"]),
                host=str(data.get("host", "")),
                action=str(data.get("action", "")),
                record=str(data.get("record", "")),
                since=since,
                expires=expires,
                lock=str(data.get("lock", FLEET_LOCK)),
                ttl=ttl,
            )
        except (KeyError, TypeError, ValueError):
            return None


class Locked(Refused):
    """Another Molt holds the fleet lock; nothing was read or changed.

    With ``lost``: raised by ``renew`` — that lease of ours ended (not renewed within its
    TTL, or taken over since); ``holder`` is whoever holds the lock now, if anyone."""

    title = "Locked"

    def __init__(
        self,
        fleet: str,
        holder: Lease | None,
        lock: str = FLEET_LOCK,
        *,
        lost: Lease | None = None,
    ) -> None:
        who = holder.describe() if holder is not None else "another Molt (details not yet written)"
        if lost is not None:
            what = "rollout lock" if lost.lock == ROLLOUT_LOCK else "lock"
            message = (
                f"this Molt lost the {what} of fleet {fleet} ({lost.action}): its lease "
                f"was not renewed within {lost.ttl:g} s, or its connection was cut"
                + (f"; it is held by {who} now" if holder is not None else "")
            )
        elif (holder.lock if holder is not None else lock) == ROLLOUT_LOCK:
            message = (
                f"fleet {fleet} has a rollout driven by {who}; one rollout at a time "
                f"(`molt rollout {fleet} --abort` ends it)"
            )
        else:
            message = (
                f"fleet {fleet} is locked by {who}; try again when it has finished "
                f"(`molt status {fleet}` shows it)"
            )
        super().__init__(message)
        self.holder = holder
        self.lost = lost
