"""The fleet's locks on the LB host: a lease with a TTL, held by an SSH session.

Three files per lock in the fleet's directory (the fleet lock; the rollout lock adds
its name, ``rollout-lease.json`` …):

- ``lease.lock``: ``flock``-ed by one ``sh`` kept running over the holder's SSH
  connection for as long as it acts. A Molt that dies drops its connection, sshd ends
  the ``sh``, and the lock is free at once.
- ``lease.json``: who holds it, for what, and until when (``expires``). The holder
  renews it every third of its TTL; ``lease.pid`` names the holding ``sh``.
- ``lease.take``: ``flock``-ed for an instant around every take, renewal and release,
  so each reads and writes ``lease.json`` as one step.

A holder that stops without dying (SIGSTOP, a laptop lid shut, a network that drops
packets without a reset) keeps its connection, and its ``sh`` keeps the ``flock``,
for as long as TCP does not notice — hours with sshd's defaults. Its lease, though,
ends with its TTL: once ``expires`` has passed, the lock reads as free, and the next
Molt that takes it ends the stale holder's ``sh`` (only a process of that pid that has
``lease.lock`` open as its lock) and takes the ``flock``. The stopped holder's next
renewal finds another token in ``lease.json`` and raises ``Locked`` (``lost``).
Expiry is judged by the clock of the Molt that reads the lease: the machines Molt runs
on must agree on the time within a fraction of the TTL (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import posixpath
import re
import shlex

import asyncssh

from backends.core.clock import iso, utcnow
from backends.core.errors import OperationFailed, Unreachable
from backends.core.locking import FLEET_LOCK, Lease, Locked
from backends.ssh.connections import HostConnection
from backends.ssh.remote import PID_OK

LEASE_NAME = "lease.json"  # the fleet lock; other locks: <name>-lease.json …
LEASE_LOCK = "lease.lock"
LEASE_PID = "lease.pid"
LEASE_TAKE = "lease.take"
MUTEX_WAIT = 10.0
HELD = 75  # what the scripts exit with when another Molt holds the lock
#: a token as :meth:`Lease.new` makes it (what is read back is checked before use)
TOKEN = re.compile(r"[0-9a-f]{1,64}")
#: a time as :func:`~backends.core.clock.iso` writes it, ``precise``
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class LbLease:
    """One of the fleet's locks on the LB host (see the module's docstring)."""

    def __init__(
        self,
        lb: HostConnection,
        fleet: str,
        fleet_dir: str,
        *,
        timeout: float,
        lock: str = FLEET_LOCK,
    ) -> None:
        self.lb = lb
        self.fleet = fleet
        self.dir = fleet_dir
        self.timeout = timeout
        self.lock = lock
        self._held: dict[str, tuple[contextlib.AsyncExitStack, asyncssh.SSHClientProcess[str]]] = {}
        prefix = "" if lock == FLEET_LOCK else f"{lock}-"
        self.names = {
            "LOCK": prefix + LEASE_LOCK,
            "LEASE": prefix + LEASE_NAME,
            "PIDFILE": prefix + LEASE_PID,
            "MUTEX": prefix + LEASE_TAKE,
        }
        self.lock_path = posixpath.join(fleet_dir, self.names["LOCK"])
        self.lease_path = posixpath.join(fleet_dir, self.names["LEASE"])

    async def take(self, lease: Lease) -> Lease:
        """Take the lock for ``lease``; :class:`Locked` naming the holder when another
        Molt holds it and its lease has not expired."""
        try:
            return await self._take(lease, stale="")
        except Locked as refused:
            stale = refused.holder
            if stale is None or not stale.expired or not TOKEN.fullmatch(stale.token):
                raise
        return await self._take(lease, stale=stale.token)  # its holder stopped renewing

    async def _take(self, lease: Lease, stale: str) -> Lease:
        lease = lease.renewed()  # its TTL runs from the take, not from when it was made
        stack = contextlib.AsyncExitStack()
        process = await stack.enter_async_context(self.lb.process(self._script("take", stale)))
        try:
            process.stdin.write(_line(lease))
            answer = await asyncio.wait_for(
                process.stdout.readline(), MUTEX_WAIT + 5 + self.timeout
            )
        except TimeoutError:
            await stack.aclose()
            raise Unreachable(f"{self.lb.name}: no answer while taking the fleet lock") from None
        except BaseException:
            await stack.aclose()
            raise
        if answer.strip() != "locked":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait_closed(), self.timeout)
            status = process.exit_status
            await stack.aclose()
            if status == HELD or status is None:
                raise Locked(self.fleet, await self.written(), self.lock)
            raise OperationFailed(
                f"cannot take the lock {self.lock_path} on {self.lb.name} "
                f"(exit status {status}); check that the deploy user may write there"
            )
        self._held[lease.token] = (stack, process)
        return lease

    async def renew(self, lease: Lease) -> Lease:
        """Push the lease on by its TTL; :class:`Locked` (``lost``) when it is not ours
        any more: expired (taken over or not), or our session ended. Expiry is judged by
        what ``lease.json`` holds for this token (as the local agent judges it by the lease
        it holds), not by ``lease``'s: a caller's copy may predate a later renewal."""
        held = self._held.get(lease.token)
        if held is None or held[1].is_closing() or held[1].exit_status is not None:
            raise Locked(self.fleet, await self.holder(), self.lock, lost=lease)
        renewed = lease.renewed()
        script = self._script("renew", lease.token, now=iso(utcnow(), precise=True) or "")
        done = await self.lb.run(script, stdin=_line(renewed), timeout=self.timeout)
        if done.status == HELD:
            raise Locked(self.fleet, await self.holder(), self.lock, lost=lease)
        if not done.ok:
            raise OperationFailed(f"{self.lb.name}: cannot renew the lease: {done.reason()}")
        return renewed

    async def give_back(self, lease: Lease) -> None:
        """Remove ``lease.json`` if it is still ours (in one step, under the mutex), then
        end the session holding the ``flock``."""
        held = self._held.pop(lease.token, None)
        if held is None:
            return
        stack, _ = held
        try:
            with contextlib.suppress(Exception):
                await self.lb.run(self._script("release", lease.token), timeout=self.timeout)
        finally:
            await stack.aclose()  # the command reads EOF and exits: the flock is free

    async def holder(self) -> Lease | None:
        """Who holds the lock now: nobody when the flock is free (whatever a dead
        holder left behind) or when the holder's lease has expired. Writes nothing."""
        lock = shlex.quote(self.lock_path)
        done = await self.lb.run(
            f"[ -e {lock} ] || exit 0; flock -n {lock} true && exit 0; exit {HELD}",
            timeout=self.timeout,
        )
        if done.status != HELD:
            return None
        lease = await self.written()
        return None if lease is not None and lease.expired else lease

    async def written(self) -> Lease | None:
        """What ``lease.json`` says, expired or not."""

        async def load(sftp: asyncssh.SFTPClient) -> bytes | None:
            try:
                async with sftp.open(self.lease_path, "rb") as handle:
                    data: bytes = await handle.read(65536)
                    return data
            except asyncssh.SFTPNoSuchFile:
                return None

        raw = await self.lb.with_sftp(load, timeout=self.timeout, what=f"reading {LEASE_NAME}")
        if raw is None:
            return None
        with contextlib.suppress(ValueError):
            return Lease.from_json(json.loads(raw))
        return None

    def _script(self, verb: str, token: str, now: str = "") -> str:
        script = lease_script(verb, token, now)
        for name, value in self.names.items():
            script = script.replace(name, shlex.quote(value))
        return script.replace("FLEETDIR", shlex.quote(self.dir))


def _line(lease: Lease) -> str:
    return json.dumps(lease.to_json(), sort_keys=True) + "\n"


def lease_script(verb: str, token: str, now: str = "") -> str:
    """The ``sh`` that takes, renews or releases a lock (file names as placeholders).

    ``take``: under the mutex, ``flock`` the lock — or, when it is held and ``token``
    names the holder's expired lease still written there, end the holder's ``sh`` and
    ``flock`` it then; write the lease read on stdin and this ``sh``'s pid; print
    ``locked`` and hold the lock until stdin closes. ``renew``: replace the lease with
    the one on stdin if ``token``'s lease is still written, has not expired by ``now``
    (the renewing Molt's clock, as :func:`~backends.core.clock.iso` writes it: fixed width,
    so it compares as text) and its ``sh`` still holds the lock. ``release``: remove the
    lease if it is ``token``'s. Exit 75: not ours."""
    if not TOKEN.fullmatch(token or "0"):
        raise ValueError(f"{token!r} is not a lease token")
    if verb == "renew" and not ISO.fullmatch(now):
        raise ValueError(f"{now!r} is not a time as iso() writes it")
    ours = shlex.quote(f'"token": "{token}"')
    head = f"""cd FLEETDIR 2>/dev/null || {{ mkdir -p FLEETDIR && cd FLEETDIR; }} || exit 1
{PID_OK}
holds() {{ read -r pid < PIDFILE && pid_ok "$pid" && [ "/proc/$pid/fd/9" -ef LOCK ]; }}
exec 8>>MUTEX || exit 1
flock -w {MUTEX_WAIT:g} 8 || exit 1
"""
    write = """IFS= read -r lease || exit 1
printf '%s\\n' "$lease" > LEASE.new && mv -f LEASE.new LEASE || exit 1
"""
    if verb == "take":
        takeover = (
            f"grep -qF {ours} LEASE 2>/dev/null && holds && kill -KILL \"$pid\" && "
            f"flock -w 5 9 || exit {HELD}"
            if token
            else f"exit {HELD}"
        )
        return (
            head
            + f"""exec 9>>LOCK || exit 1
if ! flock -n 9; then
  {takeover}
fi
echo "$$" > PIDFILE || exit 1
"""
            + write
            + """exec 8>&-
echo locked
read -r _
exit 0"""
        )
    if verb == "renew":
        live = (  # the expiry written for this token, later than now
            f"""expires=$(sed -n 's/.*"expires": "\\([^"]*\\)".*/\\1/p' LEASE)\n"""
            f"awk -v now={shlex.quote(now)} -v e=\"$expires\" 'BEGIN {{ exit !(now < e) }}' "
            f"|| exit {HELD}\n"
        )
        return (
            head + f"grep -qF {ours} LEASE 2>/dev/null && holds || exit {HELD}\n" + live + write
        )
    if verb == "release":
        return head + f"grep -qF {ours} LEASE 2>/dev/null && rm -f LEASE PIDFILE\nexit 0"
    raise ValueError(verb)
