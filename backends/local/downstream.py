"""The proxy's side of a connection from a client: read requests within limits, queue
them, answer them in order.

Every byte a client sends counts against a limit before it can cost memory: the request
line (414), the head (431), the body (413, or a bodiless refusal as soon as a
``Content-Length`` says it is too big), and time (408 for a head or body that stops
arriving; an idle keep-alive connection is closed). Small bodies are read whole, so an
idempotent request can be retried on another instance; bigger ones stream to the
instance as they arrive, held back (client reading paused) while the instance is slow
to take them, so one upload costs a few hundred KiB whatever its size.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Protocol

import httptools

from backends.local.wire import (
    HOP_BY_HOP,
    IDEMPOTENT,
    BodyStream,
    Limits,
    MiB,
    Request,
    simple_answer,
)

if TYPE_CHECKING:
    from backends.local.meter import Meter
    from backends.local.routing import Upstream

MAX_PIPELINED = 16
SLICE = 16 * 1024  # bytes fed to the parser at a time, so a head is measured as it grows
WHOLE_BODY = 64 * 1024  # bodies up to this are read whole before going upstream
HOLD = 256 * 1024  # bytes of a streamed body held before the client is paused
LINGER = 5.0  # seconds a refused client's bytes are still read (and dropped)


class Refusal(Exception):
    """A request the proxy answers itself, then closes the connection."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


class Switchboard(Protocol):
    """What a client's side needs of the proxy (:class:`backends.local.proxy.Proxy` is
    one): its limits and address, its clients, its count of requests in flight per
    generation and its meter, and a way to send a request to an upstream."""

    limits: Limits
    address: str
    clients: set[ClientSide]
    in_flight: Counter[str]
    meter: Meter | None

    def dispatch(self, exchange: Exchange, avoid: Upstream | None = None) -> None: ...


class Connection(Protocol):
    """A connection to an instance as a client's side sees it
    (:class:`backends.local.upstream.UpstreamSide` is one)."""

    transport: asyncio.Transport

    def abandon(self) -> None: ...


class Exchange:
    """One client request on its way to an upstream and back."""

    __slots__ = ("client", "request", "upstream", "connection", "attempts", "answered", "sent")

    def __init__(self, client: ClientSide, request: Request) -> None:
        self.client = client
        self.request = request
        self.upstream: Upstream | None = None
        self.connection: Connection | None = None
        self.attempts = 1
        self.answered = False  # some bytes of the answer reached the client
        self.sent = 0.0  # when the current upstream was chosen

    def finish(self, status: int | None) -> None:
        """The current upstream is done with this request: ``status`` is its answer,
        0 when it could not be delivered, None when the client went away first."""
        upstream = self.upstream
        if upstream is not None:
            proxy = self.client.proxy
            proxy.in_flight[upstream.generation] -= 1
            if status is not None and proxy.meter is not None:
                proxy.meter.record(upstream.instance, time.perf_counter() - self.sent, status)
            self.upstream = None

    @property
    def stale(self) -> bool:
        """The client went away, or was refused, while this was on its way."""
        return self.client.gone or self.client.current is not self

    def failed_before_answer(self) -> None:
        failed = self.upstream
        self.finish(0)
        request, client = self.request, self.client
        if self.stale:
            return
        if request.method in IDEMPOTENT and request.replayable and self.attempts < 2:
            self.attempts += 1
            client.proxy.dispatch(self, avoid=failed)
        elif failed is not None:
            client.answer(simple_answer(502, f"molt: {failed.instance} did not answer\n"))


class ClientSide(asyncio.Protocol):
    """One client connection: parses requests within limits, answers them in order."""

    def __init__(self, proxy: Switchboard) -> None:
        self.proxy = proxy
        self.limits = proxy.limits
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.queue: deque[Request] = deque()
        self.current: Exchange | None = None
        self.gone = False
        self.ended = False  # the client will send nothing more
        self.dropping: float | None = None  # since when what it sends is dropped (refused)
        self.peer = b""
        self.last_read = time.monotonic()  # or the last answer finished
        self.begun: float | None = None  # when the request being read began
        self.in_body = False
        self.head_bytes = 0
        self.body_bytes = 0
        self.streaming: BodyStream | None = None
        self._url: list[bytes] = []
        self._url_bytes = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._upstream_paused: Connection | None = None
        self._holds: set[str] = set()

    # transport callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.proxy.clients) >= self.limits.max_connections:
            self.transport.write(
                simple_answer(503, "molt: too many connections, try again\n", close=True)
            )
            self.transport.close()
            self.gone = True
            return
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]).encode() if peer else b""
        self.proxy.clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.proxy.clients.discard(self)
        if self.current is not None and self.current.connection is not None:
            self.current.connection.abandon()

    def eof_received(self) -> bool:
        """The client sent all it will (a half-close): answer what it asked, then close."""
        self.ended = True
        if self.dropping is not None:
            return False
        # (a body still streaming can never end now: the instance would wait for it)
        return self.streaming is None and (self.current is not None or bool(self.queue))

    def data_received(self, data: bytes) -> None:
        if self.dropping is not None:
            return
        self.last_read = time.monotonic()
        try:
            if len(data) <= SLICE:
                self._feed(data)
            else:
                view = memoryview(data)
                for start in range(0, len(data), SLICE):
                    self._feed(view[start : start + SLICE])
        except httptools.HttpParserUpgrade:
            self.refuse(501, "molt: protocol upgrades (WebSocket) are not proxied\n")
            return
        except httptools.HttpParserCallbackError as error:
            refusal = error.__context__
            if isinstance(refusal, Refusal):
                self.refuse(refusal.status, refusal.text)
            else:
                self.refuse(400, "molt: malformed HTTP request\n")
            return
        except httptools.HttpParserError:
            self.refuse(400, "molt: malformed HTTP request\n")
            return
        except Refusal as refusal:
            self.refuse(refusal.status, refusal.text)
            return
        if len(self.queue) > MAX_PIPELINED:
            self.hold("pipeline")
        stream = self.streaming
        if stream is not None and stream.sink is None and stream.held > HOLD:
            self.hold("body")
        self._next()

    def _feed(self, data: bytes | memoryview) -> None:
        if not self.in_body:
            self.head_bytes += len(data)
        self.parser.feed_data(data)
        if not self.in_body and self.head_bytes > self.limits.max_head:
            raise Refusal(431, "molt: request headers too large\n")

    def pause_writing(self) -> None:
        """The client reads slower than the instance answers: stop reading the instance."""
        if self.current is not None and self.current.connection is not None:
            self._upstream_paused = self.current.connection
            self.current.connection.transport.pause_reading()

    def resume_writing(self) -> None:
        paused, self._upstream_paused = self._upstream_paused, None
        if paused is not None and not paused.transport.is_closing():
            paused.transport.resume_reading()

    # reading holds: the client is paused while any reason to hold it stands ------------
    def hold(self, why: str) -> None:
        if not self._holds and not self.transport.is_closing():
            self.transport.pause_reading()
        self._holds.add(why)

    def release(self, why: str) -> None:
        if why in self._holds:
            self._holds.discard(why)
            if not self._holds and not self.transport.is_closing():
                self.transport.resume_reading()

    # parser callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._url_bytes, self._headers, self._body = [], 0, [], []
        self.begun = time.monotonic()
        self.body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > self.limits.max_url:
            raise Refusal(414, "molt: request URL too long\n")
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        if len(self._headers) > self.limits.max_headers:
            raise Refusal(431, "molt: too many request headers\n")

    def on_headers_complete(self) -> None:
        self.in_body, self.head_bytes = True, 0
        length, chunked, expect = 0, False, False
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)  # llhttp has checked it is a number
            elif lowered == b"transfer-encoding":
                chunked = True
            elif lowered == b"expect" and value.lower() == b"100-continue":
                expect = True
        if length > self.limits.max_body:
            raise Refusal(413, self._too_large())
        if expect:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if chunked or length > WHOLE_BODY:
            self.streaming = BodyStream(chunked)
            framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % length
            self.queue.append(self._request(b"", framing, self.streaming))

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.max_body:
            raise Refusal(413, self._too_large())
        if self.streaming is not None:
            self.streaming.push(body)
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self.in_body, self.begun = False, None
        if self.streaming is not None:
            self.streaming.end()
            self.streaming = None
            return
        body = b"".join(self._body)
        method = self.parser.get_method()
        framing = b""
        if body or method in (b"POST", b"PUT", b"PATCH"):
            framing = b"Content-Length: %d" % len(body)
        self.queue.append(self._request(body, framing, None))

    def _request(self, body: bytes, framing: bytes, stream: BodyStream | None) -> Request:
        method = self.parser.get_method()
        lines = [b"%s %s HTTP/1.1\r\n" % (method, b"".join(self._url))]
        lines += [b"%s: %s\r\n" % h for h in self._headers if h[0].lower() not in HOP_BY_HOP]
        if not any(name.lower() == b"host" for name, _ in self._headers):
            lines.append(b"Host: %s\r\n" % self.proxy.address.encode())  # HTTP/1.0 clients
        lines.append(b"X-Forwarded-For: %s\r\n" % self.peer)
        if framing:
            lines.append(framing + b"\r\n")
        lines.append(b"\r\n")
        http10 = self.parser.get_http_version() == "1.0"
        keep_alive = self.parser.should_keep_alive()
        return Request(method, b"".join(lines), body, keep_alive, http10, stream)

    def _too_large(self) -> str:
        return f"molt: request body larger than {self.limits.max_body // MiB} MiB\n"

    # answering -------------------------------------------------------------------------
    def _next(self) -> None:
        if self.current is None and self.queue and not self.gone:
            self.current = Exchange(self, self.queue.popleft())
            self.proxy.dispatch(self.current)

    def answer(self, data: bytes) -> None:
        """A whole answer made by the proxy itself (503, 502...)."""
        if not self.gone and self.dropping is None:
            self.transport.write(data)
        current = self.current
        self.done(keep_alive=current is not None and current.request.keep_alive)

    def done(self, keep_alive: bool) -> None:
        finished, self.current = self.current, None
        self.last_read = time.monotonic()
        self.release("upstream")
        if self.gone:
            return
        unread = finished is not None and not finished.request.complete
        if not keep_alive or unread or (self.ended and not self.queue):
            # (unread: a body still arriving for an answered request cannot be parsed)
            self.transport.close()
            return
        if len(self.queue) <= MAX_PIPELINED:
            self.release("pipeline")
        self._next()

    def refuse(self, status: int, text: str) -> None:
        """Answer ``status`` and close. The client may still be sending what was
        refused: what it sends is read and dropped for a moment (``LINGER``), so that it
        reads the answer rather than a reset. When an earlier request's answer is due
        first, the connection is only closed (an answer out of turn would be taken for
        that one's)."""
        current, self.current = self.current, None
        in_turn = current is None or (
            current.request.stream is not None
            and current.request.stream is self.streaming
            and not current.answered
        )
        if current is not None and current.connection is not None:
            current.connection.abandon()
        if self.gone or self.transport.is_closing():
            return
        if not in_turn or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write(simple_answer(status, text, close=True))
        self.transport.write_eof()
        self.dropping = time.monotonic()
        self.queue.clear()
        self._holds.clear()
        self.transport.resume_reading()

    def check_time(self, now: float) -> None:
        """Close a connection whose request stopped arriving, or that idles too long."""
        limits = self.limits
        if self.dropping is not None:
            if now - self.dropping > LINGER:
                self.transport.close()
        elif self.begun is not None and not self.in_body:
            if now - self.begun > limits.head_timeout:
                self.refuse(408, "molt: the request headers did not arrive in time\n")
        elif self.in_body:
            # held back by a slow instance counts too; waiting for its turn does not
            stalled = now - self.last_read > limits.read_timeout
            if stalled and not self._holds & {"pipeline", "body"}:
                self.refuse(408, "molt: the request body stopped arriving\n")
        elif self.current is None and not self.queue and now - self.last_read > limits.idle_timeout:
            self.transport.close()

