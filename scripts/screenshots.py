"""``make screenshots``: SVGs of the real app on the real local backend, for the README.

The app opens a fresh state dir at 120×36: the built-in demo fleet launches g1 on first
use; then, while the app watches, a v2 comes up and takes 30% of traffic and a v3-bad
fails its health checks. The clock is frozen once the fleet has settled, the app is
driven with keys and each screen saved. The agent is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.app import MoltApp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "screenshots"
SIZE = (120, 36)
OPERATOR = "alice"  # getpass reads $USER: the screenshots name a person, not root


class Clock:
    """Real time until frozen: the fleet settles live, then every screenshot agrees."""

    def __init__(self) -> None:
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        from backends.model import utcnow

        return self.frozen or utcnow()

    def freeze(self) -> None:
        self.frozen = self().replace(microsecond=0)


async def settle(state_dir: Path) -> None:
    """What the operator does while the screenshots' app watches (as the CLI would):
    v2 beside the demo's v1, 30% of traffic to it, then a v3-bad whose checks fail."""
    from backends.local.demo import demo_fleet
    from backends.model import GenerationSpec, Health
    from backends.session import FleetSession

    async with FleetSession(demo_fleet(), state_dir) as session:
        v2 = await session.ops.launch(GenerationSpec("v2", count=3, note="faster checkout"))
        await session.wait_settled(v2.id, timeout=60)
        await session.ops.shift({"g1": 70, v2.id: 30})
        bad = await session.ops.launch(GenerationSpec("v3-bad", count=4, note="new cache layer"))
        while True:  # until its checks have failed: the red glyphs are the point
            found = (await session.read()).generation(bad.id)
            if found and all(i.health is Health.UNHEALTHY for i in found.instances):
                break
            await asyncio.sleep(0.2)


def showing(app: MoltApp, count: int) -> Callable[[], bool]:
    """A predicate: the app shows the fleet view with ``count`` generations, settled."""
    from tui.screens.fleet import FleetScreen

    def shown() -> bool:
        screen = app.screen
        return (
            isinstance(screen, FleetScreen)
            and screen.snapshot is not None
            and len(screen.snapshot.generations) == count
            and not screen.preparing
        )

    return shown


async def shoot(state_dir: Path, clock: Clock, read_only: bool = False) -> None:
    from backends.local.demo import demo_fleet
    from tui.app import MoltApp

    app = MoltApp([demo_fleet()], state_dir=state_dir, read_only=read_only, clock=clock)
    async with app.run_test(size=SIZE) as pilot:

        async def until(predicate: Callable[[], bool]) -> None:
            for _ in range(1200):
                if predicate():
                    return
                await pilot.pause(0.05)
            raise SystemExit("screenshots: the app never showed the fleet as expected")

        async def save(name: str, *keys: str) -> None:
            await pilot.press(*keys)
            await pilot.pause(0.3)
            app.save_screenshot(f"{name}.svg", str(OUT))
            print(f"screenshots/{name}.svg")

        if read_only:
            await until(showing(app, 3))
            await pilot.pause(0.5)
            await save("read-only")
            return
        await until(showing(app, 1))  # the demo's g1, launched on first use
        await settle(state_dir)
        await until(showing(app, 3))
        await pilot.pause(1.0)  # the last health events and reads land
        clock.freeze()
        await save("main", "right")  # g1 → g2: its events stand out
        await save("launch", "n")
        await save("staged-shift", "escape", "plus", "plus")
        await save("inspect", "escape", "enter")
        await save("retire", "escape", "right", "r", "g", "3")
        await save("help", "escape", "question_mark")


def main() -> int:
    from tests.support.local import state_dir_env

    os.environ["USER"] = os.environ["LOGNAME"] = OPERATOR
    OUT.mkdir(exist_ok=True)
    with state_dir_env() as state_dir:  # a fresh, short state dir; agent stopped after
        os.environ["MOLT_STATE_DIR"] = str(state_dir)
        clock = Clock()
        asyncio.run(shoot(state_dir, clock))
        asyncio.run(shoot(state_dir, clock, read_only=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
