"""The local fleet's traffic entry point: a weighted HTTP/1.1 reverse proxy.

Every request (not every connection) picks a generation by weight among those with a
healthy instance, so keep-alive clients follow weight changes at once. A connection
error to an instance before it answered is retried once on another instance for
idempotent requests.

It is written on asyncio protocols with the llhttp parser (httptools) rather than an
HTTP framework: each request costs a few microseconds of our own code, so the proxy
keeps most of the throughput a client gets talking to an instance directly
(tests/benchmarks/proxy.py). What a client may send is limited (see
:mod:`backends.local.downstream`): small bodies are read whole, big ones stream through;
answers stream through with back-pressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

from backends.local.downstream import ClientSide, Exchange
from backends.local.meter import Meter
from backends.local.routing import Router, Upstream
from backends.local.upstream import UpstreamSide
from backends.local.wire import Limits, simple_answer

SWEEP_EVERY = 1.0  # seconds between looks for connections past a time limit


class Proxy:
    """Listens for clients and forwards each request to the upstream the router picks."""

    def __init__(
        self, fleet: str, router: Router, meter: Meter | None = None, limits: Limits | None = None
    ) -> None:
        self.fleet = fleet
        self.router = router
        self.limits = limits or Limits()
        self.in_flight: Counter[str] = Counter()
        self.meter = meter  # what real requests saw (None: not recorded)
        self.idle: dict[int, list[UpstreamSide]] = {}
        self.address = ""
        self._server: asyncio.Server | None = None
        self.clients: set[ClientSide] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> str:
        """Listen on ``host:port`` (0: any free port); returns the actual address."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSide(self), host, port, reuse_address=True, backlog=1024
        )
        bound = self._server.sockets[0].getsockname()[1]
        self.address = f"{host}:{bound}"
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep())
        return self.address

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            now = time.monotonic()
            for client in list(self.clients):
                client.check_time(now)

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
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            for client in list(self.clients):
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
