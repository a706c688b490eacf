"""What the fleet view's parts (its controllers) may see of the fleet view.

The controllers (:mod:`~tui.screens.fleet_operations`, :mod:`~tui.screens.fleet_rollouts`,
:mod:`~tui.screens.fleet_incident`, :mod:`~tui.screens.fleet_news`) are plain classes
the screen owns and asks to act; they know the screen only through this protocol, so
none imports the screen.
"""

from __future__ import annotations

from typing import Protocol

from textual.app import App

from backends.core.errors import BackendError
from backends.core.model import FleetSnapshot, Generation
from backends.core.rollout import Rollout
from backends.engine.session import FleetSession
from backends.engine.updates import describe
from tui.formatting import literal


class FleetView(Protocol):
    """The fleet view as its controllers see it."""

    @property
    def session(self) -> FleetSession: ...
    @property
    def snapshot(self) -> FleetSnapshot | None: ...
    @property
    def selected(self) -> str | None: ...
    @property
    def rollout(self) -> Rollout | None: ...
    @property
    def selected_generation(self) -> Generation | None: ...
    @property
    def app(self) -> App[object]: ...

    #: a shift staged with ``+``/``-``, not applied yet
    staged: dict[str, int] | None

    def on_stack(self) -> bool:
        """Is the view on screen (or under a screen it opened)?"""
        ...


def say_refused(view: FleetView, refusal: BackendError, *, title: str = "") -> None:
    """A refusal as a warning toast: its title (or ``title``) and its reason."""
    shown, message = describe(refusal)
    view.app.notify(
        literal(message), title=title or shown, severity="warning", timeout=10, markup=False
    )
