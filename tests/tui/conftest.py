"""A synthetic fleet with a frozen clock, and the app on top of it."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from backends.config.fleet_config import FleetConfig
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.fleets import three_generations
from tui.app import MoltApp
from tui.screens.fleet import FleetScreen
from tui.widgets.generation import GenerationColumn

SIZE = (120, 36)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> SyntheticBackend:
    """g1 v1 (70%), g2 v2 (30%, one pending), g3 v3 (launching, nothing healthy)."""
    fleet = SyntheticBackend(clock=clock, auto_health=0.01)
    three_generations(fleet)
    return fleet


def synthetic_fleet(name: str = "web") -> FleetConfig:
    return FleetConfig(name=name, backend="synthetic", settings=None)


def make_app(
    backend: SyntheticBackend,
    clock: ManualClock,
    *,
    read_only: bool = False,
    first: str | None = None,
    **backends: SyntheticBackend,
) -> MoltApp:
    """The real app; ``backends`` adds more fleets by name (then the estate shows
    first, unless ``first`` names the fleet to open, as ``--fleet`` does)."""
    by_name = {"web": backend, **backends}
    app = MoltApp(
        [synthetic_fleet(name) for name in by_name],
        fleet=first,
        state_dir=Path("/nonexistent-molt-state"),
        read_only=read_only,
        opener=lambda fleet, _dir, *, read_only: by_name[fleet.name].open_as(read_only=read_only),
        clock=clock,
        tz=UTC,
    )
    _SAID[app] = told(app)
    return app


_SAID: weakref.WeakKeyDictionary[App[None], list[str]] = weakref.WeakKeyDictionary()


def told(app: App[None]) -> list[str]:
    """Every notification from now on, as ``title: message`` — kept (through the public
    ``notify``), unlike the app's own list, which lets each go when its toast expires."""
    said: list[str] = []
    notify = app.notify

    def keep(message: str, **options: Any) -> None:
        said.append(f"{options.get('title', '')}: {message}")
        notify(message, **options)

    app.notify = keep  # type: ignore[method-assign]
    return said


@pytest.fixture
def app(backend: SyntheticBackend, clock: ManualClock) -> MoltApp:
    return make_app(backend, clock)


async def until(pilot: Pilot, predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Let the app run until ``predicate()`` holds (polling; never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate.__doc__ or predicate}")
        await pilot.pause(0.02)


def fleet_screen(pilot: Pilot) -> FleetScreen:
    screens = [s for s in pilot.app.screen_stack if isinstance(s, FleetScreen)]
    assert screens, "no fleet view"
    return screens[-1]


async def ready(pilot: Pilot) -> FleetScreen:
    """The fleet view once the first read is on screen (read, and its columns laid out)."""
    await until(
        pilot,
        lambda: (
            pilot.app.screen_stack
            and isinstance(pilot.app.screen, FleetScreen)
            and pilot.app.screen.snapshot is not None
        ),
    )
    screen = fleet_screen(pilot)
    await until(pilot, lambda: all(c.size.width for c in screen.query(GenerationColumn)))
    return screen


def text_of(widget: Widget) -> str:
    """What a widget shows, as plain text lines."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join(strip.text for strip in widget.render_lines(region))


def notifications(pilot: Pilot) -> list[str]:
    """Every notification of an app made by :func:`make_app`, as ``title: message``."""
    return list(_SAID[pilot.app])


async def choose(pilot: Pilot, generation: str) -> None:
    """Select ``generation`` with the arrow keys, as an operator would."""
    screen = fleet_screen(pilot)
    ids = [g.id for g in screen.snapshot.generations]
    step = "left" if ids.index(generation) < ids.index(screen.selected) else "right"
    while screen.selected != generation:
        await pilot.press(step)
