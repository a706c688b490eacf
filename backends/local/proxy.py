"""The local fleet's traffic entry point: a weighted HTTP/1.1 reverse proxy.

Every request (not every connection) picks a generation by weight among those with a
healthy instance, so keep-alive clients follow weight changes at once. A connection
error to an instance before it answered is retried once on another instance for
idempotent requests.

It is written on asyncio protocols with the llhttp parser (httptools) rather than an
HTTP framework: each request costs a few microseconds of our own code, so the proxy
keeps most of the throughput a client gets talking to an instance directly
(tests/benchmarks/proxy.py). Requests are buffered whole (they are small in the fleets
Molt serves); answers stream through with back-pressure.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass

import httptools

from backends.local.meter import Meter
from backends.local.routing import Router, Upstream
from backends.local.upstream import UpstreamSide
from backends.local.wire import HOP_BY_HOP, IDEMPOTENT, simple_answer

MAX_PIPELINED = 16


@dataclass(slots=True)
class Request:
    method: bytes
    head: bytes  # request line and headers as sent upstream, with the final CRLF
    body: bytes
    keep_alive: bool
    http10: bool

    def wire(self) -> bytes:
        return self.head + self.body


class Proxy:
    """Listens for clients and forwards each request to the upstream the router picks."""

    def __init__(self, fleet: str, router: Router, meter: Meter | None = None) -> None:
        self.fleet = fleet
        self.router = router
        self.in_flight: Counter[str] = Counter()
        self.meter = meter  # what real requests saw (None: not recorded)
        self.idle: dict[int, list[UpstreamSide]] = {}
        self.address = ""
        self._server: asyncio.Server | None = None
        self._clients: set[ClientSide] = set()

    async def start(self, host: str, port: int) -> str:
        """Listen on ``host:port`` (0: any free port); returns the actual address."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSide(self), host, port, reuse_address=True, backlog=1024
        )
        bound = self._server.sockets[0].getsockname()[1]
        self.address = f"{host}:{bound}"
        return self.address

    async def move(self, host: str, port: int) -> str:
        """Listen on ``host:port`` first, then stop listening on the old address: at no
        moment does a client find nobody listening. Connections already open are served
        until they close. ``OSError`` (and the old address kept) when the new one cannot
        be bound."""
        old = self._server
        address = await self.start(host, port)
        if old is not None:
            old.close()  # the listening socket only; open connections carry on
        return address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for client in list(self._clients):
                client.transport.close()
            await self._server.wait_closed()
            self._server = None
        for connections in self.idle.values():
            for connection in connections:
                connection.transport.close()
        self.idle.clear()

    def dispatch(self, exchange: Exchange, avoid: Upstream | None = None) -> None:
        upstream = self.router.pick(avoid)
        if upstream is None:
            if avoid is not None:
                exchange.client.answer(
                    simple_answer(502, f"molt: {avoid.instance} did not answer\n")
                )
            else:
                exchange.client.answer(
                    simple_answer(
                        503, f"molt: no healthy generation of {self.fleet} carries traffic\n"
                    )
                )
            return
        exchange.upstream = upstream
        exchange.sent = time.perf_counter()
        self.in_flight[upstream.generation] += 1
        pool = self.idle.get(upstream.port)
        while pool:
            connection = pool.pop()
            if not connection.transport.is_closing():
                connection.send(exchange)
                return
        asyncio.get_running_loop().create_task(self._connect(exchange, upstream))

    async def _connect(self, exchange: Exchange, upstream: Upstream) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: UpstreamSide(self, upstream.port), "127.0.0.1", upstream.port
                ),
                timeout=5.0,
            )
        except (OSError, TimeoutError):
            exchange.failed_before_answer()
            return
        connection.send(exchange)

    def release(self, connection: UpstreamSide) -> None:
        self.idle.setdefault(connection.port, []).append(connection)


class Exchange:
    """One client request on its way to an upstream and back."""

    __slots__ = ("client", "request", "upstream", "connection", "attempts", "answered", "sent")

    def __init__(self, client: ClientSide, request: Request) -> None:
        self.client = client
        self.request = request
        self.upstream: Upstream | None = None
        self.connection: UpstreamSide | None = None
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

    def failed_before_answer(self) -> None:
        failed = self.upstream
        self.finish(0)
        if self.request.method in IDEMPOTENT and self.attempts < 2 and not self.client.gone:
            self.attempts += 1
            self.client.proxy.dispatch(self, avoid=failed)
        elif failed is not None:
            self.client.answer(simple_answer(502, f"molt: {failed.instance} did not answer\n"))


class ClientSide(asyncio.Protocol):
    """One client connection: parses requests, answers them in order."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.queue: deque[Request] = deque()
        self.current: Exchange | None = None
        self.gone = False
        self.peer = b""
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._upstream_paused: UpstreamSide | None = None

    # transport callbacks ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]).encode() if peer else b""
        self.proxy._clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.proxy._clients.discard(self)
        if self.current is not None and self.current.connection is not None:
            self.current.connection.abandon()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(501, "molt: protocol upgrades (WebSocket) are not proxied\n")
            return
        except httptools.HttpParserError:
            self._refuse(400, "molt: malformed HTTP request\n")
            return
        if len(self.queue) > MAX_PIPELINED:
            self.transport.pause_reading()
        self._next()

    def pause_writing(self) -> None:
        """The client reads slower than the instance answers: stop reading the instance."""
        if self.current is not None and self.current.connection is not None:
            self._upstream_paused = self.current.connection
            self._upstream_paused.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._upstream_paused is not None:
            if not self._upstream_paused.transport.is_closing():
                self._upstream_paused.transport.resume_reading()
            self._upstream_paused = None

    # parser callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name.lower() == b"expect" and value.lower() == b"100-continue":
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        body = b"".join(self._body)
        lines = [b"%s %s HTTP/1.1\r\n" % (method, self._url)]
        lines += [b"%s: %s\r\n" % h for h in self._headers if h[0].lower() not in HOP_BY_HOP]
        if not any(name.lower() == b"host" for name, _ in self._headers):
            lines.append(b"Host: %s\r\n" % self.proxy.address.encode())  # HTTP/1.0 clients
        lines.append(b"X-Forwarded-For: %s\r\n" % self.peer)
        if body or method in (b"POST", b"PUT", b"PATCH"):
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines.append(b"\r\n")
        http10 = self.parser.get_http_version() == "1.0"
        self.queue.append(
            Request(method, b"".join(lines), body, self.parser.should_keep_alive(), http10)
        )

    # answering -------------------------------------------------------------------------
    def _next(self) -> None:
        if self.current is None and self.queue and not self.gone:
            self.current = Exchange(self, self.queue.popleft())
            self.proxy.dispatch(self.current)

    def answer(self, data: bytes) -> None:
        """A whole answer made by the proxy itself (503, 502...)."""
        if not self.gone:
            self.transport.write(data)
        self.done(keep_alive=self.current is not None and self.current.request.keep_alive)

    def done(self, keep_alive: bool) -> None:
        self.current = None
        if self.gone:
            return
        if not keep_alive:
            self.transport.close()
            return
        if len(self.queue) <= MAX_PIPELINED:
            self.transport.resume_reading()
        self._next()

    def _refuse(self, status: int, text: str) -> None:
        if self.current is None:
            self.transport.write(simple_answer(status, text, close=True))
        self.transport.close()
