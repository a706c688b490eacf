"""Fan events out to every watcher, each through its own bounded queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

from backends.core.events import Event

QUEUE_SIZE = 10_000


class Broadcast:
    """Every subscriber sees every event published after it subscribed; one that cannot
    keep up loses its oldest events rather than slowing the publisher."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self._size = size
        self._queues: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.contextmanager
    def subscription(self) -> Iterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def stream(self) -> AsyncIterator[Event]:
        """Events as they are published, until the consumer stops iterating."""
        with self.subscription() as queue:
            while True:
                yield await queue.get()
