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

from backends.errors import OperationFailed, Unreachable
from backends.journal import Journal, JournalRecord, fold
from backends.ssh.connections import HostConnection

STATE_NAME = "state.json"
JOURNAL_NAME = "journal.jsonl"
LOCK_WAIT = 30.0


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
    """JSON lines appended to ``journal.jsonl`` in the fleet's directory on the LB host."""

    def __init__(self, lb: HostConnection, fleet_dir: str, *, timeout: float) -> None:
        self.lb = lb
        self.dir = fleet_dir
        self.path = posixpath.join(fleet_dir, JOURNAL_NAME)
        self.timeout = timeout

    async def write(self, record: JournalRecord) -> None:
        line = record.to_line() + "\n"

        async def append(sftp: asyncssh.SFTPClient) -> None:
            with contextlib.suppress(asyncssh.SFTPFailure):
                await sftp.makedirs(self.dir, exist_ok=True)
            async with sftp.open(self.path, "a") as handle:
                await handle.write(line)
                with contextlib.suppress(asyncssh.SFTPError):
                    await handle.fsync()

        await self.lb.with_sftp(append, timeout=self.timeout, what=f"appending to {JOURNAL_NAME}")

    async def records(self, fleet: str) -> list[JournalRecord]:
        async def load(sftp: asyncssh.SFTPClient) -> str:
            try:
                async with sftp.open(self.path, "r") as handle:
                    text: str = await handle.read()
                    return text
            except asyncssh.SFTPNoSuchFile:
                return ""

        text = await self.lb.with_sftp(load, timeout=self.timeout, what=f"reading {JOURNAL_NAME}")
        writes = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                writes.append(JournalRecord.from_json(json.loads(line)))
        return [r for r in fold(writes) if r.fleet == fleet]
