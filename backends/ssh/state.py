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
import posixpath
import shlex
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncssh

from backends.core import chain
from backends.core.chain import Anchor
from backends.core.errors import OperationFailed, Unreachable
from backends.core.journal import Journal, JournalRecord
from backends.ssh import validation
from backends.ssh.anchor import HostAnchors
from backends.ssh.connections import HostConnection

STATE_NAME = "state.json"
JOURNAL_NAME = "journal.jsonl"
LOCK_WAIT = 30.0
LOCK_HOLD = 60.0  # seconds the state's lock is held at most (an update takes one or two)


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
    #: the external generation g0's percent, once Molt shifted it (None: never, so
    #: HAProxy's own weights for the servers Molt did not add say what it carries)
    external_weight: int | None = None

    def generation(self, generation_id: str) -> GenerationRecord | None:
        return next((g for g in self.generations if g.id == generation_id), None)

    def weights(self) -> dict[str, int]:
        return {g.id: g.weight for g in self.generations}

    def to_json(self) -> dict[str, Any]:
        return {"format": 1, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FleetState:
        """The state as written; every id, host, address, port and weight checked as
        :mod:`backends.ssh.validation` says (any process of the deploy user can write
        the file, and its ids end in HAProxy commands and ``rm -rf`` paths).

        Raises:
            ValueError, KeyError, TypeError: the file holds what Molt never writes.
        """
        generations = []
        for raw in data.get("generations", []):
            raw = dict(raw)
            if raw.pop("phase", "started") == "launching":  # the first format kept it apart
                raw["lifecycle"] = "launching"
            instances = [InstanceRecord(**i) for i in raw.get("instances", [])]
            generations.append(_checked(GenerationRecord(**{**raw, "instances": instances})))
        leftovers = [dict(x) for x in data.get("leftovers", [])]
        for leftover in leftovers:
            validation.host(leftover["host"])
            validation.generation_id(leftover["generation"])
        next_generation = data.get("next_generation", 1)
        if type(next_generation) is not int or not 0 < next_generation < 10**9:
            raise ValueError(f"next_generation {next_generation!r} is not a number")
        external_weight = data.get("external_weight")
        if external_weight is not None:
            validation.weight(external_weight)
        return cls(
            fleet=str(data["fleet"]),
            next_generation=next_generation,
            generations=generations,
            leftovers=leftovers,
            external_weight=external_weight,
        )


def _checked(record: GenerationRecord) -> GenerationRecord:
    validation.generation_id(record.id)
    validation.weight(record.weight)
    for host in record.hosts:
        validation.host(host)
    for instance in record.instances:
        validation.instance_id(instance.id, record.id)
        validation.host(instance.host)
        validation.address(instance.address)
        validation.port(instance.port)
    return record


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
        async with self._local, self._flock() as holding:
            state = await self.read()
            yield state
            if holding.exit_status is not None or holding.is_closing():
                raise OperationFailed(
                    f"{self.lb.name}: this Molt held the lock of {STATE_NAME} longer than "
                    f"{LOCK_HOLD:g} s (was it stopped?) and lost it; nothing was written"
                )
            await self._write(state)

    @contextlib.asynccontextmanager
    async def _flock(self) -> AsyncIterator[asyncssh.SSHClientProcess[str]]:
        """The state's lock, held by a command on the LB host — for ``LOCK_HOLD``
        seconds at most, so a Molt stopped mid-update (SIGSTOP) does not keep it for as
        long as its connection looks alive."""
        lock = posixpath.join(self.dir, ".lock")
        command = (
            f"mkdir -p {shlex.quote(self.dir)} && exec flock -w {LOCK_WAIT:g} "
            f"{shlex.quote(lock)} timeout -s KILL {LOCK_HOLD:g} sh -c 'echo locked; read _'"
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
                yield process
            finally:
                with contextlib.suppress(OSError, asyncssh.Error):
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
    writes (an operator's action, ``molt apply``)."""

    anchored_at = "the app hosts"

    def __init__(
        self,
        lb: HostConnection,
        fleet_dir: str,
        *,
        timeout: float,
        anchors: HostAnchors | None = None,
    ) -> None:
        self.lb = lb
        self.dir = fleet_dir
        self.path = posixpath.join(fleet_dir, JOURNAL_NAME)
        self.timeout = timeout
        self.anchors = anchors
        if anchors is not None:
            self.anchored_at = anchors.where

    async def write(self, record: JournalRecord) -> None:
        """Append, then move the head anchored on the app hosts forward (a host that
        cannot be reached now is behind; ``history --check`` says so if all are)."""
        rest = chain.body(record.to_json(), "")[len('{"prev":"",') :]
        done = await self.lb.run(append_script(self.dir), stdin=rest, timeout=self.timeout)
        if not done.ok:
            raise OperationFailed(
                f"{self.lb.name}: cannot append to {self.path}: {done.reason()}; "
                "nothing was done"
            )
        head = Anchor.parse(done.stdout.strip().rpartition("\n")[2])
        if self.anchors is not None and head is not None:
            await self.anchors.advance(head)

    async def anchor(self, fleet: str) -> Anchor | None:
        return await self.anchors.furthest() if self.anchors is not None else None

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

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        """The lines appended after byte ``cursor`` (complete lines only): a look reads
        what was written since the last, not the whole file."""
        start = int(cursor) if cursor.isdigit() else 0

        async def load(sftp: asyncssh.SFTPClient) -> bytes:
            try:
                async with sftp.open(self.path, "rb") as handle:
                    await handle.seek(start)
                    data: bytes = await handle.read()
                    return data
            except asyncssh.SFTPNoSuchFile:
                return b""

        data = await self.lb.with_sftp(load, timeout=self.timeout, what=f"reading {JOURNAL_NAME}")
        whole = data[: data.rfind(b"\n") + 1]  # a line being appended waits for the next look
        lines = [line for line in whole.decode(errors="replace").splitlines() if line.strip()]
        return lines, str(start + len(whole))


def append_script(fleet_dir: str) -> str:
    """Read the record (its JSON after the opening brace) on stdin; under the journal's
    lock, seal it onto the last line's hash and append it, then sync it to disk; print
    the new head (``<lines> <hash>``) for the app hosts to anchor."""
    script = r"""mkdir -p DIR && cd DIR || exit 1
rest=$(cat)
exec 9>>journal.lock
flock -w WAIT 9 || exit 1
prev=$(tail -n 1 JOURNAL 2>/dev/null | sed -n 's/.*,"hash":"\([0-9a-f]\{64\}\)"}$/\1/p')
body=$(printf '{"prev":"%s",%s' "$prev" "$rest")
hash=$(printf '%s' "$body" | sha256sum | cut -c1-64)
printf '%s,"hash":"%s"}\n' "${body%?}" "$hash" >> JOURNAL || exit 1
sync JOURNAL 2>/dev/null || true
printf '%s %s\n' "$(grep -c '[^[:space:]]' JOURNAL)" "$hash"
"""
    return (
        script.replace("DIR", shlex.quote(fleet_dir))
        .replace("WAIT", f"{LOCK_WAIT:g}")
        .replace("JOURNAL", JOURNAL_NAME)
    )
