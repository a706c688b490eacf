"""Refusals and failures: shown with their reason, nothing changes, the app stays up."""

from __future__ import annotations

import pytest

from backends.core.errors import OperationFailed, Unreachable
from backends.core.model import Health
from tests.tui.conftest import choose, make_app, notifications, ready, until
from tests.tui.test_actions import actions, weights
from tui.modals.launch import LaunchModal
from tui.widgets.header import FleetHeader
from tui.widgets.status import StatusLine


async def test_a_guard_refusal_is_shown_with_its_reason_and_nothing_changes(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await choose(pilot, "g3")  # nothing healthy: it may not receive traffic
        await pilot.press("p")
        await until(pilot, lambda: any("Refused" in n for n in notifications(pilot)))
        assert any("g3 has no healthy instance" in n for n in notifications(pilot))
        assert weights(backend) == {"g1": 70, "g2": 30, "g3": 0}
        assert actions(backend) == []  # refused before asking: nothing was sent


async def test_a_staged_shift_onto_an_unhealthy_generation_is_refused_on_apply(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("plus", "enter")  # g3 is selected: 10 points from g1
        await until(pilot, lambda: actions(backend) == [("shift", "refused")])  # journaled
        assert any("g3 has no healthy instance" in n for n in notifications(pilot))
        assert weights(backend)["g1"] == 70


async def test_a_backend_error_shows_title_and_message_and_the_app_carries_on(app, backend):
    backend.fail("set_weights", OperationFailed("the load balancer rejected the change"))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        await choose(pilot, "g2")
        await pilot.press("p", "y")
        expected = "Operation failed: the load balancer rejected the change"
        await until(pilot, lambda: expected in notifications(pilot))
        assert app.is_running and weights(backend)["g2"] == 30
        assert actions(backend) == [("promote", "failed")]
        backend.heal()
        await pilot.press("p", "y")
        await until(pilot, lambda: screen.snapshot.weights["g2"] == 100)


async def test_reads_that_fail_are_retried_with_a_visible_status(app, backend):
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        backend.fail("snapshot", Unreachable("the agent did not answer"))
        backend.set_health("g3-1", Health.HEALTHY)  # an event: the app re-reads, and fails
        status = screen.query_one(StatusLine)
        await until(pilot, lambda: "Unreachable: the agent did not answer" in status.problem)
        assert "retrying in" in status.problem
        assert screen.snapshot.generation("g3") is not None  # the last good read stays
        backend.heal()
        await until(pilot, lambda: status.problem == "", timeout=10)
        assert screen.snapshot.generation("g3").healthy_count() == 1


async def test_an_unexpected_error_is_one_line_never_a_traceback(app, backend):
    backend.failures["snapshot"] = RuntimeError("socket\nexploded")  # not a BackendError
    async with app.run_test(size=(120, 36)) as pilot:
        status = app.screen.query_one(StatusLine)
        await until(pilot, lambda: "Unexpected error" in status.problem)
        assert "RuntimeError: socket exploded" in status.problem
        assert "Traceback" not in status.problem and app.is_running


async def test_read_only_hides_and_refuses_mutating_keys(backend, clock):
    app = make_app(backend, clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await ready(pilot)
        assert app.screen.query_one(FleetHeader).read_only
        shown = {b.binding.action for b in screen.active_bindings.values() if b.binding.show}
        assert not shown & {"launch", "stage(10)", "promote", "rollback", "retire"}
        assert {"select(-1)", "inspect", "filter", "help", "quit"} <= shown
        titles = [title for title, _, _ in screen.palette_commands()]
        assert not [t for t in titles if t.startswith(("Launch", "Promote", "Retire", "Roll"))]
        await pilot.press("n", "p", "r", "plus")
        assert not isinstance(app.screen, LaunchModal) and screen.staged is None
        refusals = [n for n in notifications(pilot) if "read-only mode" in n]
        assert len(refusals) == 4 and "launch is not allowed" in refusals[0]
        assert weights(backend)["g1"] == 70 and actions(backend) == []


async def test_a_bug_in_molt_itself_ends_with_one_line_not_a_traceback(app, monkeypatch, capsys):
    monkeypatch.delenv("MOLT_DEBUG", raising=False)

    def broken(self, step: int) -> None:
        raise RuntimeError("selection exploded")

    monkeypatch.setattr("tui.screens.fleet.FleetScreen.action_select", broken)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            await pilot.press("left")
    said = " ".join(capsys.readouterr().err.split())
    assert said == (
        "molt: unexpected error: RuntimeError: selection exploded "
        "(set MOLT_DEBUG=1 for a traceback)"
    )
