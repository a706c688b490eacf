"""The local fleet's traffic entry point: a weighted HTTP reverse proxy.

Every request (not every connection) picks a generation by weight among those with a
healthy instance, so keep-alive clients follow weight changes at once. A connection
error to an instance is retried once on another instance for idempotent requests.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


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
        total = 0
        cumulative = []
        for route in usable:
            total += route.weight
            cumulative.append(total)
        self._routes, self._cumulative = usable, cumulative
        for route in usable:
            self._round_robin.setdefault(route.generation, itertools.count())

    def pick(self, avoid: Upstream | None = None) -> Upstream | None:
        if not self._routes:
            return None
        routes, cumulative = self._routes, self._cumulative
        index = bisect.bisect_right(cumulative, random.random() * cumulative[-1])
        route = routes[min(index, len(routes) - 1)]
        choice = self._next(route)
        if choice == avoid:
            others = [u for r in routes for u in r.upstreams if u != avoid]
            return random.choice(others) if others else None
        return choice

    def _next(self, route: Route) -> Upstream:
        turn = next(self._round_robin[route.generation])
        return route.upstreams[turn % len(route.upstreams)]


class Proxy:
    """An aiohttp server forwarding to the upstreams its :class:`Router` picks."""

    def __init__(self, fleet: str, router: Router) -> None:
        self.fleet = fleet
        self.router = router
        self.in_flight: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.ServerRunner | None = None
        self.address = ""

    async def start(self, host: str, port: int) -> str:
        """Listen on ``host:port`` (0: any free port); returns the actual address."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=2),
        )
        server = web.Server(self._handle)
        self._runner = web.ServerRunner(server, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self.close()
            raise
        sockets = self._runner.addresses
        bound_port = sockets[0][1] if sockets else port
        self.address = f"{host}:{bound_port}"
        return self.address

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        headers = _end_to_end(request.headers.items())
        headers.add("X-Forwarded-For", request.remote or "")
        attempts = 2 if request.method in IDEMPOTENT else 1
        failed: Upstream | None = None
        for _ in range(attempts):
            upstream = self.router.pick(avoid=failed)
            if upstream is None:
                break
            self.in_flight[upstream.generation] += 1
            try:
                return await self._forward(request, upstream, headers, body)
            except (TimeoutError, aiohttp.ClientConnectionError):
                failed = upstream
            finally:
                self.in_flight[upstream.generation] -= 1
        if failed is not None:
            return web.Response(status=502, text=f"molt: {failed.instance} did not answer\n")
        return web.Response(
            status=503, text=f"molt: no healthy generation of {self.fleet} carries traffic\n"
        )

    async def _forward(
        self, request: web.BaseRequest, upstream: Upstream, headers: CIMultiDict[str], body: bytes
    ) -> web.Response:
        assert self._session is not None
        url = f"http://127.0.0.1:{upstream.port}{request.rel_url}"
        async with self._session.request(
            request.method, url, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            payload = await answer.read()
            reply_headers = _end_to_end(answer.headers.items())
            reply_headers["X-Molt-Generation"] = upstream.generation
            return web.Response(status=answer.status, body=payload, headers=reply_headers)


def _end_to_end(headers: Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    """Headers without the hop-by-hop ones, duplicates (Set-Cookie) kept."""
    return CIMultiDict((k, v) for k, v in headers if k.lower() not in HOP_BY_HOP)
