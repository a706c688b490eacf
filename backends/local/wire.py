"""HTTP/1.1 on the wire, as the proxy needs it: which headers stay on one hop, what a
client may send (:class:`Limits`), a request on its way (whole or streaming), and
answers the proxy makes itself (502, 503, 504)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

MiB = 1024 * 1024

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",
    }
)
ANSWER_TIMEOUT = 60.0


def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def simple_answer(status: int, text: str, *, close: bool = False) -> bytes:
    body = text.encode()
    head = (
        b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
        % (status, reason(status), len(body))
    )
    return head + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client connection may send, and for how long."""

    max_body: int = 64 * MiB
    max_url: int = 8 * 1024
    max_head: int = 64 * 1024
    max_headers: int = 100
    max_connections: int = 1024  # per fleet's proxy
    head_timeout: float = 30.0  # seconds from a request's first byte to its last header
    read_timeout: float = 60.0  # seconds a body may stall
    idle_timeout: float = 75.0  # seconds a keep-alive connection may wait for a request


class BodyStream:
    """A request body on its way upstream while it arrives: pieces are held until an
    instance's connection takes them, then written straight through."""

    __slots__ = ("chunked", "pending", "held", "complete", "sink")

    def __init__(self, chunked: bool) -> None:
        self.chunked = chunked  # re-framed as chunks (its length is not known)
        self.pending: list[bytes] = []
        self.held = 0
        self.complete = False
        self.sink: asyncio.Transport | None = None

    def push(self, data: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data)

    def end(self) -> None:
        if self.chunked:
            self._write(b"0\r\n\r\n")
        self.complete = True

    def attach(self, sink: asyncio.Transport) -> None:
        self.sink = sink
        if self.pending:
            sink.write(b"".join(self.pending))
        self.pending, self.held = [], 0

    def _write(self, data: bytes) -> None:
        if self.sink is None:
            self.pending.append(data)
            self.held += len(data)
        elif not self.sink.is_closing():
            self.sink.write(data)


@dataclass(slots=True)
class Request:
    method: bytes
    head: bytes  # request line and headers as sent upstream, with the final CRLF
    body: bytes
    keep_alive: bool
    http10: bool
    stream: BodyStream | None = None  # a body sent while it arrives

    def wire(self) -> bytes:
        return self.head + self.body

    @property
    def replayable(self) -> bool:
        """Whether it can be sent again to another instance (none of its body went out)."""
        return self.stream is None or self.stream.sink is None

    @property
    def complete(self) -> bool:
        return self.stream is None or self.stream.complete
