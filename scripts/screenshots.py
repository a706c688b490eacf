"""``make screenshots``: SVGs of the real app on the real local backend, for the README.

The app opens a fresh state dir at 120×36: the built-in demo fleet launches g1 on first
use; then, while the app watches, a v2 comes up and takes 30% of traffic and a v3-bad
fails its health checks. The clock is frozen once the fleet has settled, the app is
driven with keys and each screen saved. The agent is stopped at the end.

Then, on a second fresh state dir, with real requests flowing (40 a second): a
v2-errors at 50% flagged against g1, its logs, the timeline, a rollout of v3 in
progress, and g1 tainted after a hand edit of its tree (real time, real ages).
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
        from backends.core.model import utcnow

        return self.frozen or utcnow()

    def freeze(self) -> None:
        self.frozen = self().replace(microsecond=0)


async def settle(state_dir: Path) -> None:
    """What the operator does while the screenshots' app watches (as the CLI would):
    v2 beside the demo's v1, 30% of traffic to it, then a v3-bad whose checks fail."""
    from backends.core.model import GenerationSpec, Health
    from backends.engine.session import FleetSession
    from backends.local.demo import demo_fleet

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


async def paced_load(url: str, per_second: float, stop: asyncio.Event) -> None:
    """Real requests at a steady rate (a few dozen a second: numbers that read well)."""
    import aiohttp

    async with aiohttp.ClientSession() as client:

        async def one() -> None:
            try:
                async with client.get(url) as answer:
                    await answer.read()
            except aiohttp.ClientError:
                pass  # the proxy counts what it could not deliver

        pending: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(1 / per_second)
        await asyncio.gather(*pending)


async def shoot_incident(state_dir: Path) -> None:
    """Real requests on the demo: a v2-errors at 50% flagged against g1, its logs, a
    rollout of v3 in progress, g1 hand-edited and tainted, then the timeline of it all."""
    from backends.core.model import GenerationSpec
    from backends.core.rollout import Plan
    from backends.engine.session import FleetSession
    from backends.local.demo import demo_fleet
    from tui.app import MoltApp
    from tui.screens.fleet import FleetScreen
    from tui.screens.logs import LogsScreen
    from tui.screens.timeline import TimelineScreen
    from tui.widgets.generations import GenerationStrip

    async with FleetSession(demo_fleet(), state_dir) as session:
        await session.prepare()
        bad = await session.ops.launch(
            GenerationSpec("v2-errors", count=2, note="new retry policy")
        )
        await session.wait_settled(bad.id, timeout=60)
        await session.ops.shift({"g1": 50, bad.id: 50})
        entry = (await session.read()).entry
    stop = asyncio.Event()
    load = asyncio.create_task(paced_load(f"http://{entry}/", 40, stop))
    app = MoltApp([demo_fleet()], state_dir=state_dir)
    try:
        async with app.run_test(size=SIZE) as pilot:

            async def until(predicate: Callable[[], bool], what: str) -> None:
                for _ in range(2400):
                    if predicate():
                        return
                    await pilot.pause(0.05)
                raise SystemExit(f"screenshots: the app never showed {what}")

            async def save(name: str, *keys: str) -> None:
                await pilot.press(*keys)
                await pilot.pause(0.5)
                app.save_screenshot(f"{name}.svg", str(OUT))
                print(f"screenshots/{name}.svg")

            def fleet() -> FleetScreen:
                screen = app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen
                assert isinstance(screen, FleetScreen)
                return screen

            def column(generation: str) -> str:
                shown = fleet().query_one(GenerationStrip).column(generation)
                return "" if shown is None else "\n".join(
                    shown.render_line(y).text for y in range(shown.size.height)
                )

            await until(showing(app, 2), "the fleet")
            await until(lambda: "⚑ 5xx" in column("g2"), "g2 flagged")
            await asyncio.sleep(25)  # a few steps of history for the sparklines
            await save("traffic", "right")
            await pilot.press("l")
            await until(lambda: isinstance(app.screen, LogsScreen), "the logs view")
            await asyncio.sleep(2)
            await save("logs")
            await pilot.press("escape")
            session = fleet().session
            await session.ops.shift({"g1": 100, "g2": 0})
            good = await session.ops.launch(GenerationSpec("v3", count=2, note="retry fix"))
            await session.wait_settled(good.id, timeout=60)
            plan = Plan(steps=(10, 50, 100), bake=300, min_requests=50)
            session.start_rollout(good.id, plan)
            await until(lambda: "rollout 1/3" in column(good.id), "the rollout")
            await asyncio.sleep(12)  # its first checks, with their values
            await save("rollout", "right")
            session.abort_rollout("screenshots done")
            await until(lambda: not session.in_flight, "the rollout ended")
            edited = state_dir / "fleets" / "web" / "g1" / "tree" / "app.py"
            edited.chmod(0o644)
            with edited.open("a") as source:
                source.write("# hot fix, 3 a.m.\n")  # the edit that makes a server a pet
            await session.verify(["g1"])
            await until(lambda: "tainted" in column("g1"), "g1 tainted")
            await save("tainted", "left", "left")
            await pilot.press("t")
            await until(lambda: isinstance(app.screen, TimelineScreen), "the timeline")
            await save("timeline")
    finally:
        stop.set()
        await load


def main() -> int:
    from tests.support.local import state_dir_env

    os.environ["USER"] = os.environ["LOGNAME"] = OPERATOR
    OUT.mkdir(exist_ok=True)
    with state_dir_env() as state_dir:  # a fresh, short state dir; agent stopped after
        os.environ["MOLT_STATE_DIR"] = str(state_dir)
        clock = Clock()
        asyncio.run(shoot(state_dir, clock))
        asyncio.run(shoot(state_dir, clock, read_only=True))
    with state_dir_env() as state_dir:  # real requests, logs, a rollout, drift
        os.environ["MOLT_STATE_DIR"] = str(state_dir)
        asyncio.run(shoot_incident(state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
