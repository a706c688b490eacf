"""A real load generator: keep-alive HTTP clients that count every answer."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    connections: int = 0
    bodies: collections.Counter[str] = field(default_factory=collections.Counter)
    last: dict[int, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def every_client_answered(self) -> bool:
        """Every client has had an answer: the load is up."""
        return bool(self.last) and all(self.last.values())


async def keep_alive_load(
    url: str, clients: int, stop: asyncio.Event, minimum: int, tally: Tally | None = None
) -> Tally:
    """``clients`` clients, one kept-alive connection each, requesting ``url`` until
    ``stop`` is set *and* at least ``minimum`` requests were made in all. ``tally``: the
    one to count into, for a test that watches the load as it runs."""
    tally = tally if tally is not None else Tally()

    async def on_connection(*_: object) -> None:
        tally.connections += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_connection)

    async def client(number: int) -> None:
        connector = aiohttp.TCPConnector(limit=1, force_close=False)
        timeout = aiohttp.ClientTimeout(total=10)
        recent: list[str] = []
        tally.last[number] = recent
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trace_configs=[trace]
        ) as session:
            while not (stop.is_set() and tally.total >= minimum):
                try:
                    async with session.get(url) as answer:
                        body = await answer.text()
                        if answer.status == 200:
                            tally.ok += 1
                            version = body.split()[1] if body.startswith("demo ") else body
                            tally.bodies[version] += 1
                            recent.append(version)
                            del recent[:-20]
                        else:
                            tally.failed += 1
                            tally.failures.append(f"{answer.status} {body.strip()}")
                except (aiohttp.ClientError, TimeoutError) as error:
                    tally.failed += 1
                    tally.failures.append(repr(error))
                    # a refused connection fails without yielding: let the loop (and
                    # the test that will stop us) run, and do not spin
                    await asyncio.sleep(0.01)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return tally
