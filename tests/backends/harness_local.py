"""The local backend's rig: a fresh state dir, a real agent, the demo app's processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from backends.contract import Backend
from backends.core.events import Event
from backends.local.driver import LocalBackend
from tests.backends.harness import Harness
from tests.support.local import agent_pids, local_fleet, state_dir_env, wait_for

TABLES = ("fleets", "generations", "instances", "journal")


def fingerprint(state_dir: Path) -> object:
    """The agent's store, the running instances and the files of the state dir."""
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
    _, pids = agent_pids(state_dir)
    alive = sorted(p for p in pids if Path(f"/proc/{p}").exists())
    files = sorted(
        str(p.relative_to(state_dir))
        for p in state_dir.rglob("*")
        if not p.name.startswith("state.db")
    )
    return rows, alive, files


def leave_draining(state_dir: Path, fleet: str, generation: str) -> None:
    """The agent killed (``kill -9``) with the generation marked draining."""
    agent, _ = agent_pids(state_dir)
    assert agent is not None
    os.kill(agent, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{agent}").exists() or _zombie(agent), timeout=10)
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        db.execute(
            "UPDATE generations SET lifecycle = 'draining' WHERE fleet = ? AND id = ?",
            (fleet, generation),
        )
        db.commit()


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    return True


def note_watches(backend: LocalBackend) -> None:
    """Set ``backend.answered_watch`` once the agent answers a watch request: it answers
    once it has subscribed the watcher, and the contract has no signal of its own for it.
    (Reaches into the driver's client: a rig may, the suite may not.)"""
    backend.answered_watch = False  # type: ignore[attr-defined]
    connect = backend.client.connect

    async def connect_noting(**options: object) -> tuple[asyncio.StreamReader, object]:
        reader, writer = await connect(**options)  # type: ignore[arg-type]
        write, readline = writer.write, reader.readline

        async def readline_noting() -> bytes:
            line = await readline()
            backend.answered_watch = True  # type: ignore[attr-defined]
            return line

        def write_noting(data: bytes) -> None:
            if b'"method":"watch"' in data:
                reader.readline = readline_noting  # type: ignore[method-assign]
            write(data)

        writer.write = write_noting  # type: ignore[method-assign]
        return reader, writer

    backend.client.connect = connect_noting  # type: ignore[method-assign]


def listening(backend: Backend, events: list[Event]) -> bool:
    return bool(getattr(backend, "answered_watch", False))


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    with state_dir_env() as state_dir:
        fleet = local_fleet("contract", count=2, drain_timeout=2.0)
        opened: list[LocalBackend] = []

        def reopen(read_only: bool) -> LocalBackend:
            opened.append(LocalBackend(fleet, state_dir, read_only=read_only))
            note_watches(opened[-1])
            return opened[-1]

        async def look() -> object:
            return await asyncio.to_thread(fingerprint, state_dir)

        async def drain(generation: str) -> None:
            await asyncio.to_thread(leave_draining, state_dir, "contract", generation)

        backend = reopen(False)
        try:
            yield Harness(backend, "contract", reopen, look, drain, listening)
        finally:
            for each in opened:
                await each.close()
