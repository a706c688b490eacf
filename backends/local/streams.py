"""The agent's long-lived connections: a watcher's events, a followed log, and a held
fleet lock — each lasting until the Molt at the other end goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from backends.core.locking import Lease
from backends.local import logs, rpc
from backends.local.runtime import FleetRuntime

log = logging.getLogger("molt.agent")


async def send_events(
    runtime: FleetRuntime, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """The fleet's events, one message each, until the watcher goes away."""
    with runtime.events.subscription() as queue:
        closed = asyncio.ensure_future(reader.read())  # EOF: the watcher went away
        try:
            writer.write(rpc.encode({"ok": True}))
            while not closed.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                writer.write(rpc.encode({"event": getter.result().to_json()}))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            closed.cancel()


async def send_log(path: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An instance's new lines, one message each, until the follower goes away."""
    closed = asyncio.ensure_future(reader.read())
    try:
        writer.write(rpc.encode({"ok": True}))
        async for line in logs.follow(path):
            if closed.done():
                break
            writer.write(rpc.encode({"line": line}))
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        closed.cancel()


async def hold_lock(
    runtime: FleetRuntime,
    lease: Lease,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """The fleet lock, held while this connection stays open and the lease lasts.

    The holder sends ``renew`` lines (each answered with the lease, its expiry pushed
    on by its TTL on this agent's clock) until it sends ``release`` — or goes away (a
    Molt killed mid-action frees the lock at once). A lease not renewed in time (its
    holder stopped, not dead: SIGSTOP, a laptop lid) is free for the next taker; the
    stale holder's next ``renew`` is answered ``Locked`` and its connection ends."""
    held = runtime.leases.get(lease.lock)
    if held is not None and not held.expired:
        # held by a connection, whatever token this one presents: a token is never
        # a way in (it is never shown either)
        writer.write(rpc.encode(rpc.locked_message(runtime.name, held)))
        return
    if held is not None and held.token != lease.token:
        log.info(
            "fleet %s: the expired %s lock of %s taken over", runtime.name, held.lock, held.host
        )
    lease = lease.renewed()  # an expired holder's connection is left to find out
    runtime.leases[lease.lock] = lease
    try:
        writer.write(rpc.encode({"ok": True, "result": lease.to_json()}))
        await writer.drain()
        while (await reader.readline()).strip() == b"renew":  # else "release", or EOF
            current = runtime.leases.get(lease.lock)
            if current is None or current.token != lease.token or current.expired:
                taker = current if current is not None and not current.expired else None
                writer.write(rpc.encode(rpc.locked_message(runtime.name, taker, lost=lease)))
                await writer.drain()
                return
            lease = runtime.leases[lease.lock] = current.renewed()
            writer.write(rpc.encode({"ok": True, "result": lease.to_json()}))
            await writer.drain()
    finally:
        current = runtime.leases.get(lease.lock)
        if current is not None and current.token == lease.token:
            del runtime.leases[lease.lock]
    with contextlib.suppress(ConnectionError):
        writer.write(rpc.encode({"ok": True, "result": "released"}))
        await writer.drain()
