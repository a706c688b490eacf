"""The local backend as Molt sees it: a client of the agent, which it starts on demand."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from backends.base import Backend
from backends.config import FleetConfig
from backends.errors import ConfigError, NotFound, Unreachable
from backends.journal import Journal, JournalRecord, fold
from backends.local import rpc
from backends.local.layout import LOG_NAME, SOCKET_NAME
from backends.local.processes import STOP_GRACE
from backends.local.settings import LocalSettings, settings_to_json
from backends.model import (
    DriftReport,
    Event,
    EventKind,
    FileChange,
    FileDrift,
    FleetRef,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    utcnow,
)

AGENT_START_TIMEOUT = 15.0
CALL_TIMEOUT = 60.0
SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux


class AgentClient:
    """Talks to the agent of one state dir, starting it when nobody answers."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.socket = state_dir / SOCKET_NAME
        if len(str(self.socket)) > SOCKET_PATH_MAX:
            raise ConfigError(
                f"state dir {state_dir} is too long for a Unix socket; "
                "set MOLT_STATE_DIR to a shorter path"
            )

    async def connect(
        self, *, start: bool = True
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AGENT_START_TIMEOUT
        started = False
        while True:
            try:
                return await asyncio.open_unix_connection(self.socket, limit=rpc.LINE_LIMIT)
            except (FileNotFoundError, ConnectionRefusedError) as error:
                if not start:
                    raise Unreachable(f"no local agent is running for {self.state_dir}") from error
                if not started:
                    self._start_agent()
                    started = True
                if loop.time() > deadline:
                    raise Unreachable(
                        f"the local agent did not start within {AGENT_START_TIMEOUT:.0f} s; "
                        f"see {self.state_dir / LOG_NAME}"
                    ) from error
                await asyncio.sleep(0.05)

    def _start_agent(self) -> None:
        """Start a detached agent; if another one wins the race, this one just exits."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.state_dir / LOG_NAME).open("ab") as output:
            subprocess.Popen(
                [sys.executable, "-m", "backends.local.agent", str(self.state_dir)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )

    async def call(
        self, method: str, *, start: bool = True, timeout: float = CALL_TIMEOUT, **params: Any
    ) -> Any:
        reader, writer = await self.connect(start=start)
        try:
            writer.write(rpc.encode({"method": method, "params": params}))
            await writer.drain()
            try:
                answer = await asyncio.wait_for(rpc.read(reader), timeout)
            except TimeoutError:
                raise Unreachable(
                    f"the local agent did not answer {method} within {timeout:.0f} s"
                ) from None
        except ConnectionError as error:
            raise Unreachable(f"lost the local agent during {method}: {error}") from error
        finally:
            writer.close()
        if answer is None:
            raise Unreachable(f"the local agent closed the connection during {method}")
        if not answer.get("ok"):
            rpc.raise_error(answer)
        return answer.get("result")


class LocalJournal(Journal):
    """The journal lives in the agent's SQLite store; writes also reach watchers."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def write(self, record: JournalRecord) -> None:
        await self.client.call("journal_write", record=record.to_json())

    async def records(self, fleet: str) -> list[JournalRecord]:
        rows = await self.client.call("journal_read", fleet=fleet)
        return fold(JournalRecord.from_json(row) for row in rows)


class LocalBackend(Backend):
    """Fleets of local processes behind the agent's weighted proxy."""

    kind = "local"

    def __init__(self, fleet: FleetConfig, state_dir: Path) -> None:
        self.config = fleet
        self.settings: LocalSettings = fleet.settings
        self.client = AgentClient(state_dir)
        self.journal = LocalJournal(self.client)
        self._registered = False

    async def _call(self, method: str, **params: Any) -> Any:
        if not self._registered:
            await self.client.call(
                "ensure_fleet", fleet=self.config.name, settings=settings_to_json(self.settings)
            )
            self._registered = True
        return await self.client.call(method, fleet=self.config.name, **params)

    def _check_fleet(self, fleet: str) -> None:
        if fleet != self.config.name:
            raise NotFound(f"this backend serves fleet {self.config.name}, not {fleet}")

    async def fleets(self) -> list[FleetRef]:
        snapshot = await self.snapshot(self.config.name)
        return [FleetRef(self.config.name, self.kind, snapshot.entry)]

    async def snapshot(self, fleet: str) -> FleetSnapshot:
        self._check_fleet(fleet)
        return FleetSnapshot.from_json(await self._call("snapshot"))

    async def launch(self, fleet: str, spec: GenerationSpec) -> Generation:
        self._check_fleet(fleet)
        spec_json = asdict(spec)
        if spec.artifact:
            spec_json["artifact"] = str(Path(spec.artifact).expanduser().resolve())
        return Generation.from_json(await self._call("launch", spec=spec_json))

    async def set_weights(self, fleet: str, weights: Mapping[str, int]) -> None:
        self._check_fleet(fleet)
        await self._call("set_weights", weights=dict(weights))

    async def retire(self, fleet: str, generation: str) -> None:
        self._check_fleet(fleet)
        # the agent drains first: allow the drain timeout plus the stop grace and margin
        timeout = self.settings.drain_timeout + STOP_GRACE + CALL_TIMEOUT
        await self._call("retire", generation=generation, timeout=timeout)

    async def verify(self, fleet: str, generation: str) -> DriftReport:
        self._check_fleet(fleet)
        report = await self._call("verify", generation=generation)
        return DriftReport(
            fleet=report["fleet"],
            generation=report["generation"],
            checked=tuple(report["checked"]),
            drift=tuple(
                FileDrift(d["host"], d["path"], FileChange(d["change"])) for d in report["drift"]
            ),
            unreachable=tuple(report["unreachable"]),
        )

    async def watch(self, fleet: str) -> AsyncIterator[Event]:
        self._check_fleet(fleet)
        await self._call("ping")
        while True:
            try:
                reader, writer = await self.client.connect()
            except Unreachable as error:
                yield Event(utcnow(), fleet, EventKind.ERROR, error.message)
                await asyncio.sleep(1.0)
                continue
            try:
                writer.write(rpc.encode({"method": "watch", "params": {"fleet": fleet}}))
                await writer.drain()
                first = await rpc.read(reader)
                if first is None:
                    raise ConnectionError("agent closed the watch")
                if not first.get("ok"):
                    rpc.raise_error(first)
                while (message := await rpc.read(reader)) is not None:
                    yield Event.from_json(message["event"])
            except ConnectionError:
                pass
            finally:
                writer.close()
            yield Event(utcnow(), fleet, EventKind.ERROR, "lost the local agent; reconnecting")
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):
                self._registered = False
                await self._call("ping")
