"""``molt status`` with no fleet, as printed: one row per fleet (those needing attention
first), generations live first, the fleet's traffic, the rollout and its step, then a
line per thing that needs an operator; outside text shown literally."""

from __future__ import annotations

from pathlib import Path

from backends.core.errors import Unreachable
from backends.core.rollout import Plan
from backends.engine.estate import Estate
from backends.engine.session import FleetSession
from tests.support.synthetic import ManualClock, SyntheticBackend
from tui.cli.estate import format_estate


async def test_the_estate_table():
    clock = ManualClock()
    shop, web = SyntheticBackend("shop", clock=clock), SyntheticBackend("web", clock=clock)
    shop.add_generation("v1", 3, weight=100)
    shop.add_generation("v2\x1b[2J", 3)  # a version label that would clear a terminal
    shop.set_traffic("g1", 40.0, error_rate=0.002, p99_ms=18)
    await shop.rollout_elsewhere("g2", "g1", steps=2, plan=Plan(), by="bob")
    web.add_generation("v9", 2, weight=100)
    web.fail("snapshot", Unreachable("10.0.0.9:22: connection refused"))
    sessions = {b.fleet: FleetSession.around(b) for b in (shop, web)}
    estate = Estate(
        [shop.config, web.config],
        Path("/nonexistent"),
        read_only=True,
        session_for=lambda config: sessions[config.name],
        clock=clock,
    )
    text = format_estate(await estate.refresh())
    assert text.splitlines() == [
        "FLEET  BACKEND    GENERATIONS                   HEALTHY  REQ/S  5XX   P99    ROLLOUT",
        "web    synthetic  unreachable                   —        —      —     —      —",
        "shop   synthetic  g1 v1 75% · g2 v2\\x1b[2J 25%  6/6      40     0.2%  18 ms  "
        "running 2/4 25%",
        "! web: unreachable since 14:02:11: 10.0.0.9:22: connection refused",
    ]
