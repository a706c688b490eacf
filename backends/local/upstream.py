"""The proxy's side of a connection to an instance: send one request (its body as it
arrives, if it streams), stream the answer back to the client re-framed for keep-alive,
then return to the idle pool."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

import httptools

from backends.local.wire import ANSWER_TIMEOUT, HOP_BY_HOP, reason, simple_answer

if TYPE_CHECKING:
    from backends.local.downstream import Exchange


class Pool(Protocol):
    """What a connection to an instance needs of the proxy
    (:class:`backends.local.proxy.Proxy` is one): its idle connections by port, and a
    way to give one back."""

    idle: dict[int, list[UpstreamSide]]

    def release(self, connection: UpstreamSide) -> None: ...


class UpstreamSide(asyncio.Protocol):
    """One kept-alive connection to an instance; carries one exchange at a time."""

    def __init__(self, proxy: Pool, port: int) -> None:
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
        self.status = 0  # of the answer being relayed
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, exchange: Exchange) -> None:
        if exchange.stale:  # the client left (or was refused) while we were connecting
            exchange.finish(None)
            self.proxy.release(self)
            return
        self.exchange = exchange
        exchange.connection = self
        self.parser = httptools.HttpResponseParser(self)
        self.out = []
        self.timer = asyncio.get_running_loop().call_later(ANSWER_TIMEOUT, self._timed_out)
        request = exchange.request
        self.transport.write(request.wire())
        if request.stream is not None:
            request.stream.attach(self.transport)
            exchange.client.release("body")

    # the instance takes a streamed body slower than the client sends it: hold the client
    def pause_writing(self) -> None:
        if self.exchange is not None and not self.exchange.request.complete:
            self.exchange.client.hold("upstream")

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.release("upstream")

    def abandon(self) -> None:
        """The client went away mid-answer: this connection's state is unknown now."""
        self._cancel_timer()
        exchange, self.exchange = self.exchange, None
        self.transport.close()
        if exchange is not None:
            exchange.finish(None)

    def _timed_out(self) -> None:
        self.timer = None
        if self.exchange is not None and not self.exchange.request.complete:
            # its body still arrives (the client side times out a stalled one)
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(ANSWER_TIMEOUT, self._timed_out)
            return
        exchange, self.exchange = self.exchange, None
        self.transport.close()
        if exchange is None:
            return
        exchange.finish(0)
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
            exchange.finish(0)
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
        status = self.status = self.parser.get_status_code()
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason(status))]
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
        if exchange is not None and not exchange.request.complete:
            reuse = False  # answered before the whole body went out
        if reuse and not self.transport.is_closing():
            self.proxy.release(self)
        else:
            self.transport.close()
        if exchange is not None:
            exchange.finish(self.status)
            exchange.client.done(self.keep_client)
