"""Raw request bytes against the real agent's proxy, as a hostile or broken client
sends them: malformed, split across writes, pipelined, a few huge. Whatever arrives,
the agent keeps running, gives back what it took (memory, file descriptors), and every
answer is a well-formed HTTP answer or a closed connection."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httptools
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backends.local.processes import free_port
from tests.support.local import agent_pids, molt, state_dir_env, wait_for

pytestmark = pytest.mark.slow
APPS = Path(__file__).resolve().parents[1] / "support" / "apps"
MiB = 1024 * 1024


class Agent:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.port = port
        pid, _ = agent_pids(state_dir)
        assert pid is not None
        self.pid = pid

    def memory(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"agent {self.pid} is gone")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    with state_dir_env() as state_dir:
        port = free_port()
        toml = state_dir / "molt.toml"
        toml.write_text(
            f'[fleets.web]\nartifact = "{APPS}"\nstart = "{{python}} sink.py --port {{port}}"\n'
            f'listen = "127.0.0.1:{port}"\ncount = 1\nmax_body_mib = 1\n'
        )
        for verb in (("launch", "web", "--version", "v1", "--wait"), ("promote", "web", "g1")):
            done = molt(state_dir, *verb, config=toml)
            assert done.returncode == 0, done.stderr
        yield Agent(state_dir, port)


# what a request is made of --------------------------------------------------------------
TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1)
METHODS = st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH"])
ODD_METHOD = st.one_of(METHODS, st.binary(max_size=12))
PATHS = st.one_of(
    st.just(b"/"),
    TOKEN.map(lambda t: b"/" + t.encode()),
    st.binary(max_size=40).map(lambda b: b"/" + b),
)
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1 ", b"HTTX", b""])
HEADER = st.one_of(
    st.tuples(TOKEN.map(str.encode), TOKEN.map(str.encode)),
    st.tuples(st.binary(max_size=20), st.binary(max_size=40)),
    st.sampled_from(
        [
            (b"Content-Length", b"-1"),
            (b"Content-Length", b"99999999999999999999"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Transfer-Encoding", b"gzip, chunked"),
            (b"Connection", b"close"),
            (b"Connection", b"keep-alive, Upgrade"),
            (b"Upgrade", b"websocket"),
            (b"Expect", b"100-continue"),
            (b"Host", b""),
        ]
    ),
)


@st.composite
def request(draw: st.DrawFn) -> bytes:
    """One request, well formed or broken in a few of its parts."""
    well_formed = draw(st.booleans())
    method = draw(METHODS if well_formed else ODD_METHOD)
    version = b"HTTP/1.1" if well_formed else draw(VERSIONS)
    headers = [(b"Host", b"fuzz")] + draw(st.lists(HEADER, max_size=6))
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "none", "wrong length"]))
    if framing == "length":
        headers.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "wrong length":
        headers.append((b"Content-Length", b"%d" % draw(st.integers(0, 600))))
    elif framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    head = b"%s %s %s\r\n" % (method, draw(PATHS), version)
    head += b"".join(b"%s: %s\r\n" % pair for pair in headers)
    return head + b"\r\n" + (body if framing != "none" else b"")


#: rarely: a request far past a limit, or an endless head (named, so a failure reads short)
HUGE = {
    "url": lambda: b"GET /" + b"u" * (2 * MiB) + b" HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    "header": lambda: b"GET / HTTP/1.1\r\nHost: fuzz\r\nX-Big: " + b"h" * (2 * MiB) + b"\r\n\r\n",
    "headers": lambda: b"GET / HTTP/1.1\r\n" + b"X-Many: m\r\n" * 20_000 + b"\r\n",
    "body over the cap": lambda: (
        b"POST / HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 3000000\r\n\r\n" + b"b" * 3_000_000
    ),
    "chunks over the cap": lambda: (
        b"POST / HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"100000\r\n" + b"c" * 0x100000 + b"\r\n") * 2
    ),
    "body under the cap": lambda: (
        b"POST / HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 900000\r\n\r\n" + b"s" * 900_000
    ),
    "blank lines": lambda: b"\r\n" * MiB,
}

#: what each of them is answered
LIMITED = {
    "url": 414,
    "header": 431,
    "headers": 431,
    "body over the cap": 413,
    "chunks over the cap": 413,
    "body under the cap": 200,
    "blank lines": 431,
}

DATA = st.integers(0, 49).flatmap(
    lambda roll: st.sampled_from(sorted(HUGE))
    if roll == 0
    else st.one_of(
        st.lists(request(), min_size=1, max_size=4).map(b"".join),  # pipelined
        st.binary(max_size=400),  # noise
        st.tuples(request(), st.binary(max_size=60)).map(b"".join),  # then noise
    )
)


def exchange(port: int, data: bytes, cuts: list[int]) -> bytes:
    """Send ``data`` in pieces cut at ``cuts``, half-close, read until the proxy closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        edges = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
        try:
            for start, end in zip(edges, edges[1:], strict=False):
                conn.sendall(data[start:end])
            conn.shutdown(socket.SHUT_WR)
        except OSError:  # reset, broken pipe, not connected
            pass  # refused before the end: what it answered is still there to read
        got = b""
        while True:
            try:
                piece = conn.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            got += piece
        return got


STATUS_LINE = re.compile(rb"HTTP/1\.1 [1-5]\d\d [^\r\n]*\r\n")


class Answers:
    """Parses what the proxy sent back: one or more HTTP answers."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.statuses.append(self.parser.get_status_code())


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=DATA, cuts=st.lists(st.integers(0, 10**6), max_size=4))
@example(data="url", cuts=[3, 70_000])
@example(data="header", cuts=[])
@example(data="headers", cuts=[17])
@example(data="body over the cap", cuts=[40, 100_000])
@example(data="chunks over the cap", cuts=[])
@example(data="body under the cap", cuts=[65_000, 65_001])
@example(data="blank lines", cuts=[])
def test_whatever_a_client_sends_the_proxy_answers_cleanly_or_closes(agent, data, cuts):
    sent = HUGE[data]() if isinstance(data, str) else data
    got = exchange(agent.port, sent, cuts)
    assert not got or STATUS_LINE.match(got), got[:200]  # bytes back are an answer, never noise
    if isinstance(data, str):  # past a limit: refused with its status, or passed if under
        assert got.startswith(b"HTTP/1.1 %d " % LIMITED[data]), (data, got[:200])
    if b"HEAD" not in sent:  # (an answer to HEAD announces a body it does not carry)
        answers = Answers()
        answers.parser.feed_data(got)  # raises on anything that is not HTTP
        assert all(100 <= status <= 599 for status in answers.statuses), answers.statuses


@pytest.fixture(scope="module", autouse=True)
def nothing_leaks(agent) -> Iterator[None]:
    """Measured around the whole fuzz run: the agent gives back what clients cost it."""
    exchange(agent.port, b"GET / HTTP/1.1\r\nHost: warm\r\n\r\n", [])
    rss, fds = agent.memory("VmRSS"), agent.fds()
    yield
    assert Path(f"/proc/{agent.pid}").exists(), "the agent died"
    wait_for(lambda: agent.fds() <= fds + 4, timeout=10)
    assert agent.memory("VmRSS") < rss + 40 * MiB
    assert agent.memory("VmHWM") < 200 * 1000 * 1000
