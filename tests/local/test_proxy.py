"""The local proxy over real sockets: weights, framing, retries, refusals."""

from __future__ import annotations

import asyncio
import collections
import contextlib

import aiohttp
import pytest
from aiohttp import web

from backends.local.proxy import Proxy
from backends.local.routing import Route, Router, Upstream


@contextlib.asynccontextmanager
async def upstream_app(name: str, **routes):
    app = web.Application()

    async def hello(request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(text=f"{name} {request.method} {len(body)}")

    app.router.add_route("*", "/", hello)
    for path, handler in routes.items():
        app.router.add_route("*", f"/{path}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def proxy_to(*routes: tuple[str, int, list[int]]):
    router = Router()
    router.update(
        Route(gen, weight, tuple(Upstream(gen, f"{gen}-{i}", p) for i, p in enumerate(ports)))
        for gen, weight, ports in routes
    )
    proxy = Proxy("web", router)
    address = await proxy.start("127.0.0.1", 0)
    try:
        yield proxy, f"http://{address}"
    finally:
        await proxy.close()


async def raw(address: str, data: bytes, until: bytes, reads: int = 1) -> bytes:
    host, port = address.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    got = b""
    while got.count(until) < reads:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        got += chunk
    writer.close()
    return got


async def test_requests_split_by_weight_on_one_keep_alive_connection():
    async with upstream_app("blue") as blue, upstream_app("green") as green:
        async with proxy_to(("g1", 30, [blue]), ("g2", 70, [green])) as (proxy, url):
            seen = collections.Counter()
            connector = aiohttp.TCPConnector(limit=1)
            async with aiohttp.ClientSession(connector=connector) as session:
                for _ in range(600):
                    async with session.get(url + "/") as answer:
                        seen[(await answer.text()).split()[0]] += 1
                        assert answer.headers["X-Molt-Generation"] in {"g1", "g2"}
            assert 120 <= seen["blue"] <= 240, seen
            assert sum(seen.values()) == 600
            assert proxy.in_flight["g1"] == proxy.in_flight["g2"] == 0


async def test_post_bodies_arrive_whole():
    async with upstream_app("blue") as blue, proxy_to(("g1", 100, [blue])) as (_, url):
        async with aiohttp.ClientSession() as session:
            async with session.post(url + "/", data=b"x" * 100_000) as answer:
                assert await answer.text() == "blue POST 100000"


async def test_expect_continue_is_answered_by_the_proxy():
    async with upstream_app("blue") as blue, proxy_to(("g1", 100, [blue])) as (_, url):
        head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head)
        assert await asyncio.wait_for(reader.readline(), 2) == b"HTTP/1.1 100 Continue\r\n"
        writer.write(b"hello")
        rest = b""
        while b"blue" not in rest:
            rest += await asyncio.wait_for(reader.read(4096), 2)
        writer.close()
        assert b"blue POST 5" in rest


async def test_chunked_and_close_delimited_answers_keep_the_client_connection():
    async def chunked(request):
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one ", b"two ", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    async with upstream_app("blue", chunked=chunked) as blue:
        async with proxy_to(("g1", 100, [blue])) as (_, url):
            request = b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n"
            got = await raw(url, request * 2, b"0\r\n\r\n", reads=2)
            assert got.count(b"HTTP/1.1 200 OK") == 2
            assert got.count(b"one \r\n") == 2 and b"Transfer-Encoding: chunked" in got


async def test_close_delimited_upstream_is_reframed():
    async def old_server(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length here")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(old_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, proxy_to(("g1", 100, [port])) as (_, url):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            for _ in range(3):
                async with session.get(url + "/") as answer:
                    assert await answer.text() == "no length here"


async def test_head_and_pipelined_requests_answer_in_order():
    async with upstream_app("blue") as blue, proxy_to(("g1", 100, [blue])) as (_, url):
        pipeline = (
            b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        got = await raw(url, pipeline, b"blue DELETE 0")
        answers = got.split(b"HTTP/1.1 200 OK")[1:]
        assert len(answers) == 3
        assert b"blue" not in answers[0]  # HEAD: headers only
        assert answers[1].endswith(b"blue GET 0") and b"blue DELETE 0" in answers[2]


async def test_no_traffic_means_503_with_the_reason():
    async with proxy_to() as (_, url), aiohttp.ClientSession() as session:
        async with session.get(url + "/") as answer:
            assert answer.status == 503
            assert "no healthy generation of web carries traffic" in await answer.text()


async def test_a_dead_instance_is_retried_once_for_idempotent_requests():
    dead = 1  # nothing listens on port 1
    async with upstream_app("blue") as blue:
        async with proxy_to(("g1", 100, [dead, blue])) as (proxy, url):
            async with aiohttp.ClientSession() as session:
                answers = []
                for _ in range(6):
                    async with session.get(url + "/") as answer:
                        answers.append(answer.status)
                assert answers == [200] * 6
        async with proxy_to(("g1", 100, [dead])) as (proxy, url):
            async with aiohttp.ClientSession() as session:
                async with session.post(url + "/", data=b"x") as answer:
                    assert answer.status == 502
            assert proxy.in_flight["g1"] == 0


async def test_http10_clients_get_connection_close():
    async with upstream_app("blue") as blue, proxy_to(("g1", 100, [blue])) as (_, url):
        got = await raw(url, b"GET / HTTP/1.0\r\n\r\n", b"blue GET 0")
        assert b"Connection: close" in got and got.endswith(b"blue GET 0")


@pytest.mark.parametrize("size", [5 * 1024 * 1024])
async def test_large_answers_stream_intact(size):
    async def big(request):
        return web.Response(body=b"z" * size)

    async with upstream_app("blue", big=big) as blue, proxy_to(("g1", 100, [blue])) as (_, url):
        async with aiohttp.ClientSession() as session, session.get(url + "/big") as answer:
            assert len(await answer.read()) == size
