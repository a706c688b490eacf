"""Hostile text on screen: whatever a note or a version holds — markup, emoji, wide and
combining characters, control characters a remote system let through — the real app
draws it literally, escapes every control character, and carries on.

One app runs for the whole suite (in a thread of its own, so Hypothesis drives the
examples); each example rewrites a generation's version and note as the driver would
report them, and waits for the column to show them. The suite counts the examples that
reached the assertion and fails below 90%.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot

from backends.core.events import StateChanged
from backends.core.model import GenerationState
from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, until
from tui.formatting import literal
from tui.screens.fleet import FleetScreen
from tui.widgets.generations import GenerationStrip

EXAMPLES = 500
MIN_REACH = 0.9
CONTROL = {*range(0, 32), 127, *range(0x80, 0xA0)}

# Everything Unicode has but surrogates, weighted towards what breaks renderers.
HOSTILE = st.one_of(
    st.characters(exclude_categories=("Cs",)),
    st.sampled_from("[]/\\=#@:\x1b\x07\x00\t\n\r\x9b\u200b\u200d\u202e\u2066\ufe0f́🐍字"),
)
TEXT = st.text(HOSTILE, max_size=8)


class AppThread:
    """The real app on a synthetic fleet, running in its own thread and event loop;
    :meth:`run` hands it a coroutine to run against its pilot."""

    def __init__(self, backend: SyntheticBackend, clock: ManualClock) -> None:
        self.backend = backend
        self.app = make_app(backend, clock)
        self.loop = asyncio.new_event_loop()
        self.started: Future[Pilot] = Future()
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        try:
            async with self.app.run_test(size=SIZE) as pilot:
                await ready(pilot)
                self.started.set_result(pilot)
                await self.stop.wait()
        except BaseException as error:  # noqa: BLE001 — handed to the test thread
            if not self.started.done():
                self.started.set_exception(error)
            raise

    def __enter__(self) -> AppThread:
        self.thread.start()
        self.pilot = self.started.result(timeout=30)
        return self

    def __exit__(self, *_: object) -> None:
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)
        self.loop.close()

    def run(self, step: Callable[[Pilot], Awaitable[Any]]) -> Any:
        """``step(pilot)`` in the app's loop, as the app (Textual's public way in)."""
        return self.app.call_from_thread(step, self.pilot)


def drawn(pilot: Pilot) -> set[int]:
    """Every character the fleet view draws now (line ends aside)."""
    screen = pilot.app.screen
    assert isinstance(screen, FleetScreen)
    return {
        ord(c)
        for widget in screen.query("*")
        if widget.size.area
        for c in text_of(widget).replace("\n", "")
    }


def test_any_version_and_note_are_drawn_literally_with_no_control_character() -> None:
    clock = ManualClock()
    backend = SyntheticBackend(clock=clock)
    backend.add_generation("v1", 2, weight=100, age=timedelta(hours=1))
    backend.add_generation("v2", 2)
    outcomes: Counter[str] = Counter()
    with AppThread(backend, clock) as running:
        examples = itertools.count(1)

        @settings(
            max_examples=EXAMPLES,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(version=TEXT, note=TEXT)
        def show(version: str, note: str) -> None:
            # a fresh prefix each time, so the column showing it proves a repaint
            version = f"v{next(examples)}{version}"

            async def step(pilot: Pilot) -> str:
                generation = backend.generations["g2"]
                generation.version, generation.note = version, note
                backend.publish(
                    StateChanged(
                        fleet="web",
                        at=clock(),
                        generation_id="g2",
                        before=GenerationState.HEALTHY,
                        after=GenerationState.HEALTHY,
                    )
                )
                screen = pilot.app.screen
                assert isinstance(screen, FleetScreen)
                column = screen.query_one(GenerationStrip).column("g2")
                assert column is not None
                await until(pilot, lambda: literal(version) in text_of(column), timeout=5)
                shown = text_of(column)
                assert not note or f"“{literal(note)}”" in shown, shown
                assert not drawn(pilot) & CONTROL
                assert pilot.app.return_code is None  # still running
                return "with a note" if note else "without a note"

            outcome = running.run(step)
            event(outcome)
            outcomes[outcome] += 1

        show()
    print(f"{outcomes.total()} examples reached the assertion: {dict(outcomes)}")
    assert outcomes.total() >= EXAMPLES * MIN_REACH
