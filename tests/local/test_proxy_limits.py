"""What one client may cost the local agent's proxy (one agent serves every local
fleet): a huge URL, huge headers and an over-cap body are refused with 414, 431, 413;
a 1 GiB upload streams through with the agent's memory staying under 200 MB."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from backends.core.errors import ConfigError
from backends.local.processes import free_port
from backends.local.proxy import Proxy
from backends.local.routing import Route, Router, Upstream
from backends.local.settings import LocalSettings
from backends.local.wire import Limits
from tests.local.test_proxy import upstream_app
from tests.support.local import agent_pids, molt, state_dir_env

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"
MiB = 1024 * 1024


class Fleets:
    def __init__(self, state_dir: Path, ports: dict[str, int], toml: Path) -> None:
        self.state_dir, self.ports, self.toml = state_dir, ports, toml

    def agent_memory(self, field: str = "VmHWM") -> int:
        """The agent's resident memory in bytes (VmHWM: its peak so far)."""
        agent, _ = agent_pids(self.state_dir)
        assert agent is not None
        for line in Path(f"/proc/{agent}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} for the agent")


@pytest.fixture(scope="module")
def fleets() -> Iterator[Fleets]:
    with state_dir_env() as state_dir:
        ports = {"small": free_port(), "big": free_port()}
        toml = state_dir / "molt.toml"
        toml.write_text(
            "".join(
                f"[fleets.{name}]\n"
                f'artifact = "{APPS}"\n'
                'start = "{python} sink.py --port {port}"\n'
                f'listen = "127.0.0.1:{port}"\n'
                "count = 1\n"
                f"max_body_mib = {1 if name == 'small' else 1024}\n"
                for name, port in ports.items()
            )
        )
        for name in ports:
            done = molt(state_dir, "launch", name, "--version", "v1", "--wait", config=toml)
            assert done.returncode == 0, done.stderr
            done = molt(state_dir, "promote", name, "g1", config=toml)
            assert done.returncode == 0, done.stderr
        yield Fleets(state_dir, ports, toml)


def exchange(port: int, head: bytes, body: bytes = b"", *, send_body: int = 0) -> bytes:
    """Send ``head`` (then ``body``, or ``send_body`` zero bytes in pieces) and read the
    answer until the connection closes (every request here ends with a close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        try:
            conn.sendall(head + body)
            piece = b"\0" * MiB
            left = send_body
            while left > 0:
                conn.sendall(piece[: min(left, MiB)])
                left -= min(left, MiB)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-way: the answer is still there to read
        got = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split()[1])


def test_a_huge_url_is_refused_414(fleets):
    port = fleets.ports["small"]
    answer = exchange(port, b"GET /" + b"a" * (8 * MiB) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 414
    assert b"URL too long" in answer
    after = exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(after) == 200  # the proxy goes on serving


def test_huge_headers_are_refused_431(fleets):
    port = fleets.ports["small"]
    one_huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (8 * MiB) + b"\r\n\r\n"
    assert status_of(exchange(port, one_huge)) == 431
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(5000)) + b"\r\n"
    assert status_of(exchange(port, many)) == 431


def test_a_body_over_the_fleets_cap_is_refused_413(fleets):
    port = fleets.ports["small"]  # max_body_mib = 1
    announced = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 * MiB)
    answer = exchange(port, announced)  # refused before a byte of the body is sent
    assert status_of(answer) == 413
    assert b"larger than 1 MiB" in answer
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (64 * 1024, b"c" * 64 * 1024) for _ in range(40))
    assert status_of(exchange(port, chunked, body)) == 413
    under = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    answer = exchange(port, under % (MiB - 1), b"u" * (MiB - 1))
    assert status_of(answer) == 200 and answer.endswith(b"\r\n\r\n%d\n" % (MiB - 1))


def test_molt_apply_changes_the_body_cap_a_look_does_not(fleets):
    port, toml = fleets.ports["small"], fleets.toml
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    body = b"p" * (3 * MiB // 2)
    original = toml.read_text()
    toml.write_text(original.replace("max_body_mib = 1\n", "max_body_mib = 2\n", 1))
    try:
        looked = molt(fleets.state_dir, "status", "small", config=toml)
        assert "max_body_mib = 2, the fleet runs with 1" in looked.stdout + looked.stderr
        assert status_of(exchange(port, post % len(body), body)) == 413
        applied = molt(fleets.state_dir, "apply", "small", config=toml)
        assert applied.returncode == 0, applied.stderr
        assert "request bodies up to 2 MiB (was 1)" in applied.stdout
        assert status_of(exchange(port, post % len(body), body)) == 200
    finally:
        toml.write_text(original)
        assert molt(fleets.state_dir, "apply", "small", config=toml).returncode == 0


def test_a_1_gib_upload_streams_through_with_the_agent_under_200_mb(fleets):
    port = fleets.ports["big"]  # max_body_mib = 1024
    size = 1024 * MiB
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    answer = exchange(port, head % size, send_body=size)
    assert status_of(answer) == 200 and answer.endswith(b"\r\n\r\n%d\n" % size)
    chunked = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    body = b"".join(b"%x\r\n%s\r\n" % (MiB, b"k" * MiB) for _ in range(64)) + b"0\r\n\r\n"
    answer = exchange(port, chunked, body)
    assert status_of(answer) == 200 and answer.endswith(b"\r\n\r\n%d\n" % (64 * MiB))
    assert fleets.agent_memory("VmHWM") < 200 * 1000 * 1000


# per-connection limits, on a proxy in this process with small limits ---------------------
@contextlib.asynccontextmanager
async def small_proxy(**limits: float):
    async with upstream_app("blue") as port:
        router = Router()
        router.update([Route("g1", 100, (Upstream("g1", "g1-1", port),))])
        proxy = Proxy("web", router, limits=Limits(**limits))  # type: ignore[arg-type]
        address = await proxy.start("127.0.0.1", 0)
        try:
            yield int(address.rsplit(":", 1)[1])
        finally:
            await proxy.close()


async def read_to_close(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.read(), within)


async def test_connections_past_the_cap_are_answered_503_and_closed():
    async with small_proxy(max_connections=3) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        reader, _ = await asyncio.open_connection("127.0.0.1", port)
        assert (await read_to_close(reader)).startswith(b"HTTP/1.1 503 ")
        for _, writer in held:
            writer.close()


async def test_a_head_that_stops_arriving_is_answered_408():
    async with small_proxy(head_timeout=1.0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = await read_to_close(reader)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        writer.close()


async def test_a_body_that_stalls_is_answered_408_and_an_idle_connection_closed():
    async with small_proxy(read_timeout=1.0, idle_timeout=1.0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        answer = await read_to_close(reader)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await read_to_close(reader)  # answered, then closed when idle
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"blue GET 0"), answer


@pytest.mark.parametrize("value", [0, -1, 4097, 10**9])
def test_max_body_mib_has_a_floor_and_a_ceiling(tmp_path, value):
    with pytest.raises(ConfigError, match=f"^max_body_mib must be 1–4096, not {value}$"):
        LocalSettings(artifact=tmp_path, start="app {port}", max_body_mib=value)


async def test_an_instance_that_answers_before_the_body_ends_ends_the_connection():
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=413, text="app: too big for me")

    async with upstream_app("blue", early=refuse) as port:
        router = Router()
        router.update([Route("g1", 100, (Upstream("g1", "g1-1", port),))])
        proxy = Proxy("web", router)
        address = await proxy.start("127.0.0.1", 0)
        try:
            host, proxy_port = address.rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(proxy_port))
            head = b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
            writer.write(head % (10 * MiB))
            writer.write(b"e" * MiB)  # and the rest never comes
            answer = await read_to_close(reader)  # answered, then closed: the rest is unread
            assert answer.startswith(b"HTTP/1.1 413 ") and answer.endswith(b"too big for me")
            writer.close()
            assert proxy.in_flight["g1"] == 0
        finally:
            await proxy.close()
