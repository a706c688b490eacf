"""A load generator for zero-drop tests: keep-alive clients through HAProxy, every
request counted, every failure kept with its reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import aiohttp


class Load:
    """``clients`` keep-alive clients sending GET / in a loop until stopped."""

    def __init__(self, url: str, clients: int = 8) -> None:
        self.url = url
        self.clients = clients
        self.ok = 0
        self.failed = 0
        self.errors: list[str] = []
        self.versions: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def start(self) -> Load:
        self._tasks = [asyncio.create_task(self._client()) for _ in range(self.clients)]
        return self

    async def _client(self) -> None:
        connector = aiohttp.TCPConnector(limit=1)  # one connection, kept alive
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            while not self._stop.is_set():
                try:
                    async with session.get(self.url) as response:
                        body = await response.text()
                        if response.status == 200:
                            self.ok += 1
                            self.versions[body.split()[1]] += 1
                        else:
                            self.failed += 1
                            self.errors.append(f"{response.status} {body.strip()[:80]}")
                except (aiohttp.ClientError, TimeoutError) as error:
                    self.failed += 1
                    self.errors.append(f"{type(error).__name__}: {error}")

    async def more(self, requests: int, timeout: float = 60) -> Counter[str]:
        """Wait until ``requests`` more have been answered; the versions they saw."""
        target, before = self.total + requests, Counter(self.versions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.total < target:
            assert loop.time() < deadline, f"load stalled at {self.total} requests"
            await asyncio.sleep(0.05)
        return self.versions - before

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
