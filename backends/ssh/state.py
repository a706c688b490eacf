"""What Molt keeps on the LB host: the fleet's desired state and its journal.

``<base_dir>/<fleet>/state.json`` holds every non-retired generation (version,
weight, lifecycle, instances with host and port), the next generation number and the
leftovers of hosts that were unreachable when a generation was retired. It is the
desired state HAProxy is brought back to after a reload. Updates happen under
``flock`` on the LB host and replace the file atomically, so two Molts on two
machines cannot hand out the same generation number.
``<base_dir>/<fleet>/journal.jsonl`` is the append-only audit journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import posixpath
import re
import shlex
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncssh

from backends import chain
from backends.errors import BackendError, OperationFailed, Unreachable
from backends.journal import Journal, JournalRecord
from backends.locking import FLEET_LOCK, Lease, Locked
from backends.ssh.connections import HostConnection

STATE_NAME = "state.json"
JOURNAL_NAME = "journal.jsonl"
LEASE_NAME = "lease.json"  # the fleet lock; other locks: <name>-lease.json, …
LEASE_GUARD = "lease.guard"  # held for one read-modify-write of lease.json
LOCK_WAIT = 30.0
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what a lease token may be (it names a file)
HELD = 75  # the exit status of the look script when someone holds the lock


@dataclass(slots=True)
class InstanceRecord:
    """One instance as launched: where it runs. ``error`` says why it never started."""

    id: str
    host: str  # as written in hosts: user@address:port
    address: str
    port: int
    error: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(slots=True)
class GenerationRecord:
    id: str
    version: str
    count: int
    launched_at: str
    launched_by: str
    note: str = ""
    artifact: str = ""
    digest: str = ""
    weight: int = 0
    lifecycle: str = "launching"  # → active | failed once its instances were started
    draining_since: str = ""
    hosts: list[str] = field(default_factory=list)
    instances: list[InstanceRecord] = field(default_factory=list)

    @property
    def servers(self) -> list[InstanceRecord]:
        """The instances that run (or ran) and belong in HAProxy."""
        return [i for i in self.instances if not i.error]


@dataclass(slots=True)
class FleetState:
    fleet: str
    next_generation: int = 1
    generations: list[GenerationRecord] = field(default_factory=list)
    leftovers: list[dict[str, str]] = field(default_factory=list)  # {host, generation}

    def generation(self, generation_id: str) -> GenerationRecord | None:
        return next((g for g in self.generations if g.id == generation_id), None)

    def weights(self) -> dict[str, int]:
        return {g.id: g.weight for g in self.generations}

    def to_json(self) -> dict[str, Any]:
        return {"format": 1, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetState:
        generations = []
        for raw in data.get("generations", []):
            raw = dict(raw)
            if raw.pop("phase", "started") == "launching":  # the first format kept it apart
                raw["lifecycle"] = "launching"
            instances = [InstanceRecord(**i) for i in raw.get("instances", [])]
            generations.append(GenerationRecord(**{**raw, "instances": instances}))
        return cls(
            fleet=data["fleet"],
            next_generation=int(data.get("next_generation", 1)),
            generations=generations,
            leftovers=list(data.get("leftovers", [])),
        )


class LbStore:
    """The fleet's directory on the LB host."""

    def __init__(self, lb: HostConnection, fleet: str, fleet_dir: str, *, timeout: float) -> None:
        self.lb = lb
        self.fleet = fleet
        self.dir = fleet_dir
        self.timeout = timeout
        self._local = asyncio.Lock()

    @property
    def state_path(self) -> str:
        return posixpath.join(self.dir, STATE_NAME)

    async def read(self) -> FleetState:
        """The desired state; an empty fleet when Molt never acted on it."""

        async def load(sftp: asyncssh.SFTPClient) -> bytes | None:
            try:
                async with sftp.open(self.state_path, "rb") as handle:
                    data: bytes = await handle.read()
                    return data
            except asyncssh.SFTPNoSuchFile:
                return None

        raw = await self.lb.with_sftp(load, timeout=self.timeout, what=f"reading {STATE_NAME}")
        if raw is None:
            return FleetState(fleet=self.fleet)
        try:
            return FleetState.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as error:
            raise OperationFailed(
                f"{self.lb.name}:{self.state_path} is not a Molt state file ({error})"
            ) from error

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[FleetState]:
        """The desired state, read under the LB host's lock and held until the caller is
        done (nothing is written)."""
        async with self._local, self._flock():
            yield await self.read()

    @contextlib.asynccontextmanager
    async def update(self) -> AsyncIterator[FleetState]:
        """Read, let the caller change, write back atomically — under the LB host's lock.
        Nothing is written when the caller raises."""
        async with self._local, self._flock():
            state = await self.read()
            yield state
            await self._write(state)

    @contextlib.asynccontextmanager
    async def _flock(self) -> AsyncIterator[None]:
        lock = posixpath.join(self.dir, ".lock")
        command = (
            f"mkdir -p {shlex.quote(self.dir)} && exec flock -w {LOCK_WAIT:g} "
            f"{shlex.quote(lock)} sh -c 'echo locked; read _'"
        )
        async with self.lb.process(command) as process:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), LOCK_WAIT + self.timeout)
            except TimeoutError:
                raise Unreachable(
                    f"{self.lb.name}: no answer while taking the fleet lock"
                ) from None
            if line.strip() != "locked":
                reason = (await _drain(process)) or "flock failed"
                raise OperationFailed(f"cannot lock {lock} on {self.lb.name}: {reason}")
            try:
                yield
            finally:
                process.stdin.write_eof()

    def manifest_path(self, generation: str) -> str:
        return posixpath.join(self.dir, "manifests", f"{generation}.json")

    async def keep_manifest(self, generation: str, manifest: dict[str, Any]) -> None:
        """The generation's manifest, kept on the LB host beside the desired state, so
        ``molt diff`` needs no instance host."""
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"

        async def write(sftp: asyncssh.SFTPClient) -> None:
            await sftp.makedirs(posixpath.dirname(self.manifest_path(generation)), exist_ok=True)
            async with sftp.open(self.manifest_path(generation), "w") as handle:
                await handle.write(text)

        await self.lb.with_sftp(write, timeout=self.timeout, what="writing a manifest")

    async def kept_manifest(self, generation: str) -> dict[str, Any] | None:
        async def load(sftp: asyncssh.SFTPClient) -> bytes | None:
            try:
                async with sftp.open(self.manifest_path(generation), "rb") as handle:
                    data: bytes = await handle.read()
                    return data
            except asyncssh.SFTPNoSuchFile:
                return None

        raw = await self.lb.with_sftp(load, timeout=self.timeout, what="reading a manifest")
        with contextlib.suppress(ValueError):
            found = json.loads(raw) if raw is not None else None
            return found if isinstance(found, dict) else None
        return None

    async def _write(self, state: FleetState) -> None:
        text = json.dumps(state.to_json(), indent=1, sort_keys=True) + "\n"
        temporary = f"{self.state_path}.{uuid.uuid4().hex[:8]}"

        async def write(sftp: asyncssh.SFTPClient) -> None:
            async with sftp.open(temporary, "w") as handle:
                await handle.write(text)
            await sftp.posix_rename(temporary, self.state_path)

        await self.lb.with_sftp(write, timeout=self.timeout, what=f"writing {STATE_NAME}")


async def _drain(process: asyncssh.SSHClientProcess[str]) -> str:
    with contextlib.suppress(Exception):
        text = await asyncio.wait_for(process.stderr.read(), 2.0)
        return " ".join(str(text).split())
    return ""


class LbJournal(Journal):
    """``journal.jsonl`` in the fleet's directory on the LB host: one sealed line per
    write, appended by a script under ``flock``, so the chain cannot fork whoever
    writes (an operator's action, a repair found by a read)."""

    def __init__(self, lb: HostConnection, fleet_dir: str, *, timeout: float) -> None:
        self.lb = lb
        self.dir = fleet_dir
        self.path = posixpath.join(fleet_dir, JOURNAL_NAME)
        self.timeout = timeout

    async def write(self, record: JournalRecord) -> None:
        rest = chain.body(record.to_json(), "")[len('{"prev":"",') :]
        done = await self.lb.run(append_script(self.dir), stdin=rest, timeout=self.timeout)
        if not done.ok:
            raise OperationFailed(
                f"{self.lb.name}: cannot append to {self.path}: {done.reason()}; nothing was done"
            )

    async def lines(self, fleet: str) -> list[str]:
        async def load(sftp: asyncssh.SFTPClient) -> str:
            try:
                async with sftp.open(self.path, "r") as handle:
                    text: str = await handle.read()
                    return text
            except asyncssh.SFTPNoSuchFile:
                return ""

        text = await self.lb.with_sftp(load, timeout=self.timeout, what=f"reading {JOURNAL_NAME}")
        return [line for line in text.splitlines() if line.strip()]


def append_script(fleet_dir: str) -> str:
    """Read the record (its JSON after the opening brace) on stdin; under the journal's
    lock, seal it onto the last line's hash and append it, then sync it to disk."""
    script = r"""mkdir -p DIR && cd DIR || exit 1
rest=$(cat)
exec 9>>journal.lock
flock -w WAIT 9 || exit 1
prev=$(tail -n 1 JOURNAL 2>/dev/null | sed -n 's/.*,"hash":"\([0-9a-f]\{64\}\)"}$/\1/p')
body=$(printf '{"prev":"%s",%s' "$prev" "$rest")
hash=$(printf '%s' "$body" | sha256sum | cut -c1-64)
printf '%s,"hash":"%s"}\n' "${body%?}" "$hash" >> JOURNAL || exit 1
sync JOURNAL 2>/dev/null || true"""
    return (
        script.replace("DIR", shlex.quote(fleet_dir))
        .replace("WAIT", f"{LOCK_WAIT:g}")
        .replace("JOURNAL", JOURNAL_NAME)
    )


class LbLease:
    """A fleet lock on the LB host: ``lease.json`` says who holds it and, by its
    modification time on the LB host's clock plus its ``ttl_s``, until when; the
    holder's session keeps it alive and renews it.

    Three files in the fleet's directory (``<lock>-`` in front for locks other than
    the fleet lock):

    - ``lease.guard``: a ``flock`` held only for one read-modify-write of
      ``lease.json`` — always inside one remote script, never across a round trip
      with a Molt, so a stopped Molt can never hold it;
    - ``lease.json``: the lease (the holder's ``Lease`` plus ``ttl_s``);
    - ``lease.<token>.hold``: a ``flock`` the holder's remote script keeps for as long
      as its SSH session lasts.

    Taking the lock is one remote script that stays running as the holder: under the
    guard, the lease in ``lease.json`` is free when there is none, when its holder's
    ``.hold`` flock is free (that Molt died: its connection dropped, sshd ended its
    script, the lock is free at once) or when it has expired (the holder stopped
    without dying — SIGSTOP, a laptop lid — and did not renew within its TTL, even
    though its session is still open). A free lease is replaced by ours and our
    ``.hold`` flock taken, all before the guard is let go, so of two Molts racing the
    second finds the first's lease live and is refused naming it. The script then
    reads its stdin: ``renew <lease json>`` rewrites ``lease.json`` under the guard if
    the lease is still ours and unexpired (``renewed``) or answers ``lost`` (then
    ``renew`` raises ``Locked`` naming the new holder); ``release`` — or EOF, when
    the Molt is gone — removes ``lease.json`` if it is still ours. Expiry is judged on
    the LB host's clock alone, so operators' clocks need not agree. A lease is never
    judged expired before its TTL (whole seconds on the LB host's clock: up to one
    second later)."""

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
        self._held: dict[str, _Holding] = {}
        self.prefix = "" if lock == FLEET_LOCK else f"{lock}-"
        self.lease_path = posixpath.join(fleet_dir, self.prefix + LEASE_NAME)

    async def take(self, lease: Lease) -> Lease:
        if not TOKEN.fullmatch(lease.token):
            raise OperationFailed(f"a lease token must be letters and digits: {lease.token!r}")
        stack = contextlib.AsyncExitStack()
        process = await stack.enter_async_context(self.lb.process(self._script(take=lease)))
        try:
            line = await asyncio.wait_for(process.stdout.readline(), LOCK_WAIT + self.timeout)
            word = line.strip()
            if word == "held":
                found = await asyncio.wait_for(process.stdout.read(), self.timeout)
                raise Locked(self.fleet, _lease_of(found), self.lock)
            if word != "locked":
                reason = (await _drain(process)) or word or "the lock script failed"
                raise OperationFailed(f"cannot take the lock of {self.lease_path}: {reason}")
        except TimeoutError:
            await stack.aclose()
            raise Unreachable(f"{self.lb.name}: no answer while taking the fleet lock") from None
        except BaseException:
            await stack.aclose()
            raise
        self._held[lease.token] = _Holding(stack, process)
        return lease

    async def renew(self, lease: Lease) -> Lease:
        """The lease pushed on by its TTL; ``Locked`` (``lost``) when it ended meanwhile
        (expired, taken over, or its session cut)."""
        holding = self._held.get(lease.token)
        if holding is None:
            raise await self._lost(lease)
        renewed = lease.renewed()
        line = ""
        async with holding.io:
            with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
                holding.process.stdin.write(f"renew {_lease_text(renewed)}\n")
                line = await asyncio.wait_for(
                    holding.process.stdout.readline(), LOCK_WAIT + self.timeout
                )
        if line.strip() == "renewed":
            return renewed
        # "lost", or no answer: the session is given up (which ends the lease if it was not)
        raise await self._lost(lease)

    async def _lost(self, lease: Lease) -> Locked:
        holding = self._held.pop(lease.token, None)
        if holding is not None:
            await holding.close()
        holder = None
        with contextlib.suppress(BackendError):
            holder = await self.holder()
        return Locked(self.fleet, holder, self.lock, lost=lease)

    async def give_back(self, lease: Lease) -> None:
        holding = self._held.pop(lease.token, None)
        if holding is None:
            return
        with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
            async with asyncio.timeout(LOCK_WAIT + self.timeout), holding.io:
                holding.process.stdin.write("release\n")
                while line := await holding.process.stdout.readline():
                    if line.strip() == "released":
                        break  # (earlier lines: the answer to a renewal cut short)
        await holding.close()

    async def holder(self) -> Lease | None:
        """Who holds the lock now: nobody when ``lease.json`` is missing, expired or
        its holder's session is gone (whatever a dead holder left behind). Writes
        nothing."""
        done = await self.lb.run(self._script(), timeout=LOCK_WAIT + self.timeout)
        if done.ok:
            return None
        if done.status != HELD:
            raise OperationFailed(f"{self.lb.name}: cannot read {self.lease_path}: {done.reason()}")
        return _lease_of(done.stdout)

    def _script(self, *, take: Lease | None = None) -> str:
        """The remote script that takes and then holds the lock (``take``), or that
        says who holds it (exit status 75, then the lease)."""
        names = {
            "DIR": shlex.quote(self.dir),
            "GUARD": shlex.quote(self.prefix + LEASE_GUARD),
            "LEASE": shlex.quote(self.prefix + LEASE_NAME),
            "HOLDS": shlex.quote(self.prefix + "lease."),
            "WAIT": f"{LOCK_WAIT:g}",
        }
        if take is None:
            script = LOOK_SCRIPT
        else:
            script = TAKE_SCRIPT
            names["TOKEN"] = take.token
            names["TEXT"] = shlex.quote(_lease_text(take))
        for name, value in names.items():
            script = script.replace(f"@{name}@", value)
        return script


@dataclass(slots=True)
class _Holding:
    """The remote script holding one lease, and the turn to talk to it."""

    stack: contextlib.AsyncExitStack
    process: asyncssh.SSHClientProcess[str]
    io: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def close(self) -> None:
        """End the script: on EOF it lets go of the lease (if still ours) and exits."""
        with contextlib.suppress(Exception):
            self.process.stdin.write_eof()
        with contextlib.suppress(Exception):
            await self.stack.aclose()


def _lease_text(lease: Lease) -> str:
    """``lease.json``: one line, keys sorted, with the TTL in whole seconds for the
    LB host's shell (``json.dumps`` escapes quotes, so ``"token": "`` only matches the
    key)."""
    ttl_s = max(1, math.ceil(lease.ttl))
    return json.dumps({**lease.to_json(), "ttl_s": ttl_s}, sort_keys=True)


def _lease_of(text: str) -> Lease | None:
    with contextlib.suppress(ValueError):
        return Lease.from_json(json.loads(text.strip().splitlines()[-1]))
    return None


# Shared by both scripts: the lease's token and TTL, and whether it is live.
_LEASE_FUNCTIONS = r"""token_of() {
  sed -n 's/.*"token": "\([A-Za-z0-9_-]*\)".*/\1/p' @LEASE@ 2>/dev/null
}
valid() {
  m=$(stat -c %Y @LEASE@ 2>/dev/null) || return 1
  t=$(sed -n 's/.*"ttl_s": \([0-9][0-9]*\).*/\1/p' @LEASE@ 2>/dev/null)
  [ -n "$m" ] && [ -n "$t" ] && [ "$(date +%s)" -le $((m + t)) ]
}
live() { [ -e @HOLDS@"$1".hold ] && ! flock -n @HOLDS@"$1".hold true; }
"""

TAKE_SCRIPT = (
    r"""mkdir -p @DIR@ && cd @DIR@ || exit 1
"""
    + _LEASE_FUNCTIONS
    + r"""exec 8>>@GUARD@ || exit 1
flock -w @WAIT@ 8 || { echo "the guard stayed locked"; exit 1; }
cur=$(token_of)
if [ -n "$cur" ] && valid && live "$cur"; then echo held; cat @LEASE@; exit 0; fi
for f in @HOLDS@*.hold; do
  [ -e "$f" ] && flock -n "$f" true && rm -f "$f"
done
[ -n "$cur" ] && rm -f @HOLDS@"$cur".hold
exec 9>>@HOLDS@@TOKEN@.hold && flock -n 9 || { echo "cannot hold the lock"; exit 1; }
printf '%s\n' @TEXT@ > @LEASE@.@TOKEN@ && mv -f @LEASE@.@TOKEN@ @LEASE@ || {
  rm -f @LEASE@.@TOKEN@ @HOLDS@@TOKEN@.hold; echo "cannot write the lease"; exit 1; }
flock -u 8
echo locked
while read -r word text; do
  [ "$word" = renew ] || break
  flock -w @WAIT@ 8 || break
  if [ "$(token_of)" = @TOKEN@ ] && valid && printf '%s\n' "$text" > @LEASE@.@TOKEN@ \
      && mv -f @LEASE@.@TOKEN@ @LEASE@; then
    flock -u 8; echo renewed
  else
    flock -u 8; echo lost; break
  fi
done
if flock -w @WAIT@ 8; then
  [ "$(token_of)" = @TOKEN@ ] && rm -f @LEASE@
  rm -f @HOLDS@@TOKEN@.hold
fi
echo released
"""
)

LOOK_SCRIPT = (
    r"""cd @DIR@ 2>/dev/null && [ -e @GUARD@ ] && [ -e @LEASE@ ] || exit 0
"""
    + _LEASE_FUNCTIONS
    + r"""exec 8<@GUARD@ && flock -s -w @WAIT@ 8 || { echo "the guard stayed locked" >&2; exit 1; }
cur=$(token_of)
[ -n "$cur" ] && valid && live "$cur" || exit 0
cat @LEASE@
exit 75
"""
)
