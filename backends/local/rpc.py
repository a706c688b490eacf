"""The agent's protocol: one JSON object per line over a Unix socket.

Request ``{"method": ..., "params": {...}}``; answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"type": "Refused", "message": ...}}``. ``watch`` answers with
``{"ok": true}`` and then one ``{"event": {...}}`` line per event until either side closes.
``hold_lock`` answers with the lease and then one answer per line the holder sends:
``renew`` (the lease, pushed on; or ``Locked`` with ``lost`` when it has ended) or
``release`` (``"released"``); the lock is held until then or until the connection closes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, NoReturn

from backends.core import errors
from backends.core.locking import Lease, Locked

LINE_LIMIT = 64 * 1024 * 1024  # a snapshot of thousands of instances is one line


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


async def read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    line = await reader.readline()
    if not line:
        return None
    message: dict[str, Any] = json.loads(line)
    return message


def error_message(error: errors.BackendError) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {"type": type(error).__name__, "message": error.message, "title": error.title},
    }


def locked_message(
    fleet: str, holder: Lease | None, *, lost: Lease | None = None
) -> dict[str, Any]:
    """``Locked`` on the wire: who holds the lock (if anyone) and, answering a renewal,
    the lease that was ``lost``."""
    message = error_message(Locked(fleet, holder, lost=lost))
    message["error"]["lease"] = holder.public().to_json() if holder is not None else None
    message["error"]["fleet"] = fleet
    if lost is not None:
        message["error"]["lost"] = lost.to_json()
    return message


def raise_error(answer: dict[str, Any]) -> NoReturn:
    """Re-raise the agent's error as the same BackendError subclass on this side."""
    detail = answer.get("error") or {}
    if detail.get("type") == "Locked":
        holder = Lease.from_json(detail.get("lease"))
        lost = Lease.from_json(detail.get("lost")) if detail.get("lost") else None
        raise Locked(str(detail.get("fleet", "")), holder, lost=lost)
    kind = getattr(errors, str(detail.get("type")), errors.BackendError)
    if not (isinstance(kind, type) and issubclass(kind, errors.BackendError)):
        kind = errors.BackendError
    raise kind(str(detail.get("message", "the local agent failed")), detail.get("title"))
