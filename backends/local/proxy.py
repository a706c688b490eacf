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
import bisect
import itertools
import random
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import httptools

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
MAX_PIPELINED = 16


@dataclass(frozen=True, slots=True)
class Upstream:
    generation: str
    instance: str
    port: int


@dataclass(frozen=True, slots=True)
class Route:
    """One generation's share: its weight and its healthy instances."""

    generation: str
    weight: int
    upstreams: tuple[Upstream, ...]


class Router:
    """Chooses an upstream per request; rebuilt whenever weights or health change."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._cumulative: list[int] = []
        self._round_robin: dict[str, itertools.count[int]] = {}

    def update(self, routes: Iterable[Route]) -> None:
        usable = [r for r in routes if r.weight > 0 and r.upstreams]
        self._cumulative = list(itertools.accumulate(r.weight for r in usable))
        self._routes = usable
        for route in usable:
            self._round_robin.setdefault(route.generation, itertools.count())

    def pick(self, avoid: Upstream | None = None) -> Upstream | None:
        if not self._routes:
            return None
        index = bisect.bisect_right(self._cumulative, random.random() * self._cumulative[-1])
        route = self._routes[min(index, len(self._routes) - 1)]
        choice = route.upstreams[next(self._round_robin[route.generation]) % len(route.upstreams)]
        if choice == avoid:
            others = [u for r in self._routes for u in r.upstreams if u != avoid]
            return random.choice(others) if others else None
        return choice


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def simple_answer(status: int, text: str, *, close: bool = False) -> bytes:
    body = text.encode()
    head = (
        b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
        % (status, _reason(status), len(body))
    )
    return head + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body


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

    def __init__(self, fleet: str, router: Router) -> None:
        self.fleet = fleet
        self.router = router
        self.in_flight: Counter[str] = Counter()
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

    __slots__ = ("client", "request", "upstream", "connection", "attempts", "answered")

    def __init__(self, client: ClientSide, request: Request) -> None:
        self.client = client
        self.request = request
        self.upstream: Upstream | None = None
        self.connection: UpstreamSide | None = None
        self.attempts = 1
        self.answered = False  # some bytes of the answer reached the client

    def finish(self) -> None:
        if self.upstream is not None:
            self.client.proxy.in_flight[self.upstream.generation] -= 1
            self.upstream = None

    def failed_before_answer(self) -> None:
        failed = self.upstream
        self.finish()
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


class UpstreamSide(asyncio.Protocol):
    """One kept-alive connection to an instance; carries one exchange at a time."""

    def __init__(self, proxy: Proxy, port: int) -> None:
        self.proxy = proxy
        self.port = port
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.exchange: Exchange | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.out: list[bytes] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self.chunked = False  # re-chunking the body for the client
        self.until_close = False  # the instance ends its answer by closing
        self.keep_client = True
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, exchange: Exchange) -> None:
        if exchange.client.gone:  # the client left while we were connecting
            exchange.finish()
            self.proxy.release(self)
            return
        self.exchange = exchange
        exchange.connection = self
        self.parser = httptools.HttpResponseParser(self)
        self.out = []
        self.timer = asyncio.get_running_loop().call_later(ANSWER_TIMEOUT, self._timed_out)
        self.transport.write(exchange.request.wire())

    def abandon(self) -> None:
        """The client went away mid-answer: this connection's state is unknown now."""
        self._cancel_timer()
        exchange, self.exchange = self.exchange, None
        self.transport.close()
        if exchange is not None:
            exchange.finish()

    def _timed_out(self) -> None:
        self.timer = None
        exchange, self.exchange = self.exchange, None
        self.transport.close()
        if exchange is None:
            return
        exchange.finish()
        if exchange.answered:
            exchange.client.transport.close()
        else:
            exchange.client.answer(
                simple_answer(504, "molt: the instance did not answer in time\n")
            )

    def connection_lost(self, exc: Exception | None) -> None:
        pool = self.proxy.idle.get(self.port)
        if pool and self in pool:
            pool.remove(self)
        exchange = self.exchange
        if exchange is None:
            return
        if self.until_close:  # the close *is* the end of this answer
            self.on_message_complete()
            return
        self._cancel_timer()
        self.exchange = None
        if not exchange.answered:
            exchange.failed_before_answer()
        else:  # half an answer went out: the client cannot trust this connection now
            exchange.finish()
            exchange.client.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.exchange is None or self.parser is None:
            self.transport.close()  # bytes nobody asked for
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.out.clear()
            self.transport.close()
            return
        self._flush()

    def _flush(self) -> None:
        if self.out and self.exchange is not None and not self.exchange.client.gone:
            self.exchange.answered = True
            self.exchange.client.transport.write(b"".join(self.out))
        self.out.clear()

    # parser callbacks ------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_message_begin(self) -> None:
        self._headers = []

    def on_headers_complete(self) -> None:
        assert self.exchange is not None and self.parser is not None
        request = self.exchange.request
        status = self.parser.get_status_code()
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, _reason(status))]
        length = None
        upstream_chunked = False
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = value
            elif lowered == b"transfer-encoding":
                upstream_chunked = True
            elif lowered not in HOP_BY_HOP:
                lines.append(b"%s: %s\r\n" % (name, value))
        assert self.exchange.upstream is not None
        lines.append(b"X-Molt-Generation: %s\r\n" % self.exchange.upstream.generation.encode())
        bodiless = request.method == b"HEAD" or status in (204, 304) or status < 200
        self.keep_client = request.keep_alive and not request.http10
        self.chunked = False
        self.until_close = length is None and not upstream_chunked and not bodiless
        if length is not None:
            lines.append(b"Content-Length: %s\r\n" % length)
        elif not bodiless and self.keep_client:
            self.chunked = True  # re-frame so the client connection stays usable
            lines.append(b"Transfer-Encoding: chunked\r\n")
        if not self.keep_client:
            lines.append(b"Connection: close\r\n")
        lines.append(b"\r\n")
        self.out.append(b"".join(lines))
        if request.method == b"HEAD":
            # llhttp would wait for the body a HEAD answer announces; end it here
            self._flush()
            self._finish(reuse=False)

    def on_body(self, body: bytes) -> None:
        if self.chunked:
            self.out.append(b"%x\r\n%s\r\n" % (len(body), body))
        else:
            self.out.append(body)

    def on_message_complete(self) -> None:
        if self.exchange is None:
            return
        if self.chunked:
            self.out.append(b"0\r\n\r\n")
        self._flush()
        assert self.parser is not None
        reuse = self.parser.should_keep_alive() and not self.until_close
        self.until_close = False
        self._finish(reuse=reuse)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _finish(self, *, reuse: bool) -> None:
        self._cancel_timer()
        exchange, self.exchange = self.exchange, None
        if reuse and not self.transport.is_closing():
            self.proxy.release(self)
        else:
            self.transport.close()
        if exchange is not None:
            exchange.finish()
            exchange.client.done(self.keep_client)
