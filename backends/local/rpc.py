"""The agent's protocol: one JSON object per line over a Unix socket.

Request ``{"method": ..., "params": {...}}``; answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"type": "Refused", "message": ...}}``. ``watch`` answers with
``{"ok": true}`` and then one ``{"event": {...}}`` line per event until either side closes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from backends import errors
from backends.locking import Lease, Locked

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


def locked_message(fleet: str, holder: Lease) -> dict[str, Any]:
    message = error_message(Locked(fleet, holder))
    message["error"]["lease"] = holder.to_json()
    message["error"]["fleet"] = fleet
    return message


def raise_error(answer: dict[str, Any]) -> None:
    """Re-raise the agent's error as the same BackendError subclass on this side."""
    detail = answer.get("error") or {}
    if detail.get("type") == "Locked":
        holder = Lease.from_json(detail.get("lease"))
        raise Locked(str(detail.get("fleet", "")), holder)
    kind = getattr(errors, str(detail.get("type")), errors.BackendError)
    if not (isinstance(kind, type) and issubclass(kind, errors.BackendError)):
        kind = errors.BackendError
    raise kind(str(detail.get("message", "the local agent failed")), detail.get("title"))
