"""Every mutating path of the fleet view, driven by keys, on the synthetic fleet:
launch, stage/apply/drop a shift, promote, rollback, retire (right id and typo)."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from backends.core.model import Health
from tests.tui.conftest import choose, ready, until
from tui.modals.confirm import ConfirmationModal
from tui.modals.launch import LaunchModal
from tui.modals.retire import RetireModal
from tui.widgets.generations import GenerationStrip
from tui.widgets.status import StatusLine


def weights(backend) -> dict[str, int]:
    return {g.id: g.weight for g in backend.generations.values() if g.lifecycle != "retired"}


def actions(backend) -> list[tuple[str, str]]:
    """(action, outcome) of what the app did."""
    return [(r.action, r.outcome.value) for r in backend.memory.since_seeded()]


async def test_launch_opens_prefilled_and_closes_into_a_column_coming_up(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, LaunchModal)
        assert app.screen.query_one("#version", Input).value == "v1"  # the live one (70%)
        await pilot.press("v", "4", "tab", "2", "tab", *"hotfix", "enter")
        await until(pilot, lambda: screen.selected == "g4")
        column = screen.query_one(GenerationStrip).column("g4")
        assert column is not None and column.generation.version == "v4"
        assert column.generation.note == "hotfix" and len(column.generation.instances) == 2
        await until(pilot, lambda: column.generation.healthy_count() == 2)
        assert ("launch", "ok") in actions(backend)


async def test_launch_modal_refuses_a_bad_version_and_count(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("n", "v", "space", "4", "enter")
        problem = str(app.screen.query_one("#problem").render())
        assert "version label without spaces" in problem
        await pilot.press("backspace", "backspace", "tab", "0", "enter")
        assert "count must be 1–1000" in str(app.screen.query_one("#problem").render())
        await pilot.press("escape")
        assert len(backend.generations) == 3


async def test_launch_modal_refuses_a_pasted_control_character_in_the_note(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("n")
        app.screen.query_one("#note").value = "fix \x1b[2J parser"  # as a paste would bring it
        await pilot.press("enter")
        assert "note" in str(app.screen.query_one("#problem").render())
        assert len(backend.generations) == 3  # nothing launched, the modal stays open


async def test_stage_shows_weights_before_anything_changes_then_enter_applies(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await choose(pilot, "g2")
        await pilot.press("plus", "plus")
        assert screen.staged == {"g1": 50, "g2": 50, "g3": 0}
        assert "g1 70% → 50%" in screen.query_one(StatusLine).staged
        assert weights(backend) == {"g1": 70, "g2": 30, "g3": 0}  # nothing changed yet
        await pilot.press("enter")
        await until(pilot, lambda: weights(backend) == {"g1": 50, "g2": 50, "g3": 0})
        await until(pilot, lambda: screen.snapshot.weights["g2"] == 50)
        assert screen.staged is None and ("shift", "ok") in actions(backend)


async def test_escape_drops_a_staged_shift(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await choose(pilot, "g1")
        await pilot.press("minus")
        assert screen.staged == {"g1": 60, "g2": 40, "g3": 0}  # to the biggest other carrier
        await pilot.press("escape")
        assert screen.staged is None and screen.query_one(StatusLine).staged == ""
        assert weights(backend)["g1"] == 70 and actions(backend) == []


async def test_promote_asks_then_sends_all_traffic(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await choose(pilot, "g2")
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmationModal)
        assert "g1 70% → 0%" in app.screen.body
        await pilot.press("y")
        await until(pilot, lambda: weights(backend) == {"g1": 0, "g2": 100, "g3": 0})
        assert ("promote", "ok") in actions(backend)


async def test_rollback_asks_then_returns_traffic_to_the_previous_generation(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmationModal)
        assert app.screen.title_text == "Roll back to g1?"
        await pilot.press("n")  # no: nothing changes
        assert weights(backend)["g1"] == 70
        await pilot.press("b", "y")
        await until(pilot, lambda: weights(backend) == {"g1": 100, "g2": 0, "g3": 0})


async def test_retire_needs_the_generation_id_typed(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        assert screen.selected == "g3"
        await pilot.press("r")
        assert isinstance(app.screen, RetireModal)
        await pilot.press("g", "3", "3", "enter")  # a typo
        assert isinstance(app.screen, RetireModal)
        assert "“g33” is not g3: not retired" in str(app.screen.query_one("#mismatch").render())
        assert "g3" in weights(backend)
        await pilot.press("backspace", "enter")
        await until(pilot, lambda: "g3" not in [g.id for g in screen.snapshot.generations])
        assert backend.generations["g3"].lifecycle == "retired"
        assert screen.selected == "g2"


async def test_a_typo_then_escape_retires_nothing(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("r", "g", "2", "enter", "escape")
        assert backend.generations["g3"].lifecycle == "active"
        assert actions(backend) == []


async def test_health_of_a_launch_streams_into_its_column(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        backend.set_health("g3-1", Health.HEALTHY, "200 in 3 ms")
        column = screen.query_one(GenerationStrip).column("g3")
        await until(pilot, lambda: column.generation.healthy_count() == 1)
        assert "●" in column.render_line(3).text


async def test_two_escapes_in_one_burst_close_the_filter_then_drop_the_staged_shift(
    app, backend
):
    """The review found it: the filter closed one message late, so the second escape of
    a burst (a held key, a fast double tap) closed it again instead of dropping."""
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await choose(pilot, "g1")
        await pilot.press("minus")
        await pilot.press("slash", "x")
        assert screen.staged is not None and screen.filtering
        for key in ("escape", "escape"):  # as a terminal delivers a burst: no idle between
            event = events.Key(key, None)
            event.set_sender(pilot.app)
            pilot.app.post_message(event)
        await until(pilot, lambda: screen.staged is None and not screen.filtering)
