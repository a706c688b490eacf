"""Which instance answers a request: weights per generation, round-robin within one."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass


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
