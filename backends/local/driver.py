"""The local backend as Molt sees it: a client of the agent, which it starts on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.errors import BackendError, NotFound, Unreachable
from backends.core.locking import FLEET_LOCK, Lease, Locked
from backends.core.model import (
    DriftReport,
    FileChange,
    FileDrift,
    FleetSnapshot,
    Generation,
    GenerationSpec,
)
from backends.local import rpc
from backends.local.agent_client import CALL_TIMEOUT, LocalJournal
from backends.local.agent_client import AgentClient as AgentClient  # `molt agent` uses it
from backends.local.settings import LocalSettings, settings_to_json

if TYPE_CHECKING:
    from backends.core.events import Event

RENEW_TIMEOUT = 15.0  # the agent answers a renewal at once; past this the lease is given up


class LocalBackend(Backend):
    """One fleet of local processes behind the agent's weighted proxy.

    A look never changes the fleet: a fleet the agent runs keeps the settings it runs
    with until ``molt apply``; a read compares them with molt.toml and reports the
    difference (``differences`` in every snapshot, a :class:`DifferenceFound` event
    when watching). Only a fleet the agent does not run yet is handed its settings —
    and never by a read-only session, which starts nothing."""

    kind = "local"

    def __init__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> None:
        super().__init__(fleet, state_dir, read_only=read_only)
        self.settings: LocalSettings = fleet.settings
        self.client = AgentClient(state_dir, may_start=not read_only)
        self.journal = LocalJournal(self.client)
        self._registered = False
        self._held: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        self._lease_io = asyncio.Lock()  # one renew or release on a held connection at a time

    @property
    def poll_interval(self) -> float:
        return 0.25  # a local call costs a millisecond

    @property
    def wanted(self) -> dict[str, Any]:
        """The fleet's settings as molt.toml describes them now."""
        return settings_to_json(self.settings)

    async def _call(self, method: str, **params: Any) -> Any:
        if not self._registered:
            await self._register()
        return await self.client.call(method, fleet=self.name, **params)

    async def _register(self) -> None:
        running = await self.client.call("fleet_settings", fleet=self.name)
        if running is None and self.read_only:
            raise NotFound(
                f"the local agent runs no fleet {self.name}; read-only mode does not "
                "start it (open it once without --read-only)"
            )
        if running is None:  # a new fleet: nothing runs that a look could disturb
            await self.client.call("ensure_fleet", fleet=self.name, settings=self.wanted)
        self._registered = True

    async def snapshot(self) -> FleetSnapshot:
        # the agent compares molt.toml's settings with what it runs, and changes nothing
        return FleetSnapshot.from_json(await self._call("snapshot", settings=self.wanted))

    async def _apply(self) -> tuple[str, ...]:
        done: list[str] = await self._call("apply_settings", settings=self.wanted)
        return tuple(done)

    async def _launch(self, spec: GenerationSpec, resume: str | None) -> Generation:
        spec_json = asdict(spec)
        if spec.artifact:
            spec_json["artifact"] = str(Path(spec.artifact).expanduser().resolve())
        return Generation.from_json(await self._call("launch", spec=spec_json, resume=resume))

    # the fleet lock: held by the agent while our connection stays open and we renew ----
    async def _acquire(self, lease: Lease) -> Lease:
        await self._call("ping")  # the agent runs the fleet
        reader, writer = await self.client.connect()
        try:
            request = {"fleet": self.name, "lease": lease.to_json()}
            writer.write(rpc.encode({"method": "hold_lock", "params": request}))
            await writer.drain()
            answer = await rpc.read(reader)
        except ConnectionError as error:
            writer.close()
            raise Unreachable(f"lost the local agent while locking: {error}") from error
        if answer is None or not answer.get("ok"):
            writer.close()
            rpc.raise_error(answer or {})
        self._held[lease.token] = (reader, writer)
        return Lease.from_json(answer.get("result")) or lease

    async def renew(self, lease: Lease) -> Lease:
        """Ask the agent, over the held connection, to push the expiry on. ``Locked``
        (``lost``) when the lease ended meanwhile: expired while this process was
        stopped, taken over by another Molt, or cut with the agent."""
        held = self._held.get(lease.token)
        if held is None:
            raise await self._lost(lease)
        reader, writer = held
        async with self._lease_io:
            try:
                writer.write(b"renew\n")
                await writer.drain()
                answer = await asyncio.wait_for(rpc.read(reader), RENEW_TIMEOUT)
            except (ConnectionError, TimeoutError):
                answer = None  # the lock ends with the connection, which is given up
        if answer is not None and not answer.get("ok"):
            await self._drop(lease.token)
            rpc.raise_error(answer)
        renewed = Lease.from_json(answer.get("result")) if answer is not None else None
        if renewed is None:  # the agent is gone, or let go (an agent older than renewals)
            raise await self._lost(lease)
        return renewed

    async def _lost(self, lease: Lease) -> Locked:
        await self._drop(lease.token)
        holder = None
        with contextlib.suppress(BackendError):
            holder = await self.lock_holder(lease.lock)
        return Locked(self.name, holder, lease.lock, lost=lease)

    async def _drop(self, token: str) -> None:
        held = self._held.pop(token, None)
        if held is not None:
            held[1].close()

    async def release(self, lease: Lease) -> None:
        await self._let_go(lease.token)

    async def _let_go(self, token: str) -> None:
        held = self._held.pop(token, None)
        if held is None:
            return
        reader, writer = held
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(5.0):
                async with self._lease_io:
                    writer.write(b"release\n")
                    await writer.drain()
                    while (answer := await rpc.read(reader)) is not None:
                        if answer.get("result") == "released":
                            break  # the agent let go (earlier lines: a renewal cut short)
        writer.close()

    async def lock_holder(self, lock: str = FLEET_LOCK) -> Lease | None:
        return Lease.from_json(await self._call("lock_holder", lock=lock))

    async def close(self) -> None:
        for token in list(self._held):
            await self._let_go(token)

    async def frozen(self, generation: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("frozen", generation=generation)
        return found

    # what instances print --------------------------------------------------------------
    async def logs(self, instance: str, lines: int) -> list[str]:
        found: list[str] = await self._call("logs", instance=instance, lines=lines)
        return found

    async def follow(self, instance: str) -> AsyncIterator[str]:
        await self._call("ping")
        reader, writer = await self.client.connect()
        try:
            request = {"fleet": self.name, "instance": instance}
            writer.write(rpc.encode({"method": "follow_log", "params": request}))
            await writer.drain()
            first = await rpc.read(reader)
            if first is None or not first.get("ok"):
                rpc.raise_error(first or {})
            while (message := await rpc.read(reader)) is not None:
                yield str(message["line"])
        except ConnectionError as error:
            raise Unreachable(f"lost the local agent while following {instance}") from error
        finally:
            writer.close()

    async def _set_weights(self, weights: dict[str, int]) -> None:
        await self._call("set_weights", weights=weights)

    async def _retire(self, generation: str) -> None:
        from backends.local.processes import STOP_GRACE  # the agent's process handling

        # the agent drains first: allow the drain timeout plus the stop grace and margin
        timeout = self.settings.drain_timeout + STOP_GRACE + CALL_TIMEOUT
        await self._call("retire", generation=generation, timeout=timeout)

    async def verify(self, generation: str) -> DriftReport:
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

    async def watch(self) -> AsyncIterator[Event]:
        # imported where following starts: a look (`molt status`) never pays for them
        from backends.core.event_json import event_from_json
        from backends.core.events import DifferenceFound, ReadError

        for difference in (await self.snapshot()).differences:
            yield DifferenceFound(fleet=self.name, what=difference)
        while True:
            try:
                reader, writer = await self.client.connect()
            except Unreachable as error:
                yield ReadError(fleet=self.name, title=error.title, message=error.message)
                await asyncio.sleep(1.0)
                continue
            try:
                writer.write(rpc.encode({"method": "watch", "params": {"fleet": self.name}}))
                await writer.drain()
                first = await rpc.read(reader)
                if first is None:
                    raise ConnectionError("agent closed the watch")
                if not first.get("ok"):
                    rpc.raise_error(first)
                while (message := await rpc.read(reader)) is not None:
                    yield event_from_json(message["event"])
            except ConnectionError:
                pass
            finally:
                writer.close()
            yield ReadError(
                fleet=self.name, title="Unreachable", message="lost the local agent; reconnecting"
            )
            await asyncio.sleep(0.5)
            with contextlib.suppress(Exception):
                self._registered = False
                await self._call("ping")
