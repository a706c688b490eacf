"""A staged shift is applied only to the fleet it was staged on: when another operator
moved traffic meanwhile, enter shows the weights when staged, now and staged, and
applies them only once the operator confirms against the fleet as it is."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.support.synthetic import ManualClock, SyntheticBackend
from tests.tui.conftest import SIZE, make_app, ready, text_of, told, until
from tests.tui.fleets import two_generations
from tui.modals.confirm import ConfirmationModal
from tui.widgets.status import StatusLine

WAIT = 20.0  # seconds: a deadline, never a sleep


def weights(backend: SyntheticBackend) -> dict[str, int]:
    return {g: x.weight for g, x in backend.generations.items()}


def shifts(backend: SyntheticBackend) -> list[tuple[str, str, dict[str, int]]]:
    records = backend.memory.since_seeded()
    return [
        (r.operator, r.outcome.value, r.args["weights"]) for r in records if r.action == "shift"
    ]


async def stage_then_bob_shifts(pilot: Pilot[None], backend: SyntheticBackend) -> None:
    """alice stages g2 +20; bob shifts 50/50 from another terminal; alice presses enter."""
    screen = await ready(pilot)
    await pilot.press("plus", "plus")
    assert screen.staged == {"g1": 80, "g2": 20}
    await backend.elsewhere("bob").shift({"g1": 50, "g2": 50})
    status = screen.query_one(StatusLine)
    await until(
        pilot, lambda: "the fleet changed since: enter asks again" in text_of(status), timeout=WAIT
    )
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmationModal), timeout=WAIT)


async def test_a_stale_staged_shift_asks_again_and_applies_on_confirm(clock: ManualClock) -> None:
    backend = two_generations(clock)
    app = make_app(backend, clock)
    async with app.run_test(size=SIZE) as pilot:
        await stage_then_bob_shifts(pilot, backend)
        assert isinstance(app.screen, ConfirmationModal)
        body = str(app.screen.query_one("#confirm-body").render())
        assert app.screen.title_text == "The fleet changed: apply the staged shift?"
        assert (
            "when staged  g1=100 g2=0\nnow          g1=50 g2=50\nstaged       g1=80 g2=20" in body
        )
        assert "g1 50% → 80%   g2 50% → 20%" in body
        assert weights(backend) == {"g1": 50, "g2": 50}  # nothing applied while it asks
        await pilot.press("y")
        await until(pilot, lambda: weights(backend) == {"g1": 80, "g2": 20}, timeout=WAIT)
        assert shifts(backend) == [
            ("bob", "ok", {"g1": 50, "g2": 50}),
            ("alice", "refused", {"g1": 80, "g2": 20}),  # stale: journaled, nothing touched
            ("alice", "ok", {"g1": 80, "g2": 20}),
        ]


async def test_a_stale_staged_shift_declined_changes_nothing(clock: ManualClock) -> None:
    backend = two_generations(clock)
    app = make_app(backend, clock)
    said = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await stage_then_bob_shifts(pilot, backend)
        await pilot.press("n")
        await until(
            pilot, lambda: "staged shift dropped; nothing changed" in str(said), timeout=WAIT
        )
        assert weights(backend) == {"g1": 50, "g2": 50}
        assert [outcome for _, outcome, _ in shifts(backend)] == ["ok", "refused"]
        assert not any(n.startswith("The fleet changed:") for n in said)
