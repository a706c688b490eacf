"""Rollouts from the fleet view: ``R`` starts one with the fleet's plan, ``space`` pauses
or resumes it, ``A`` aborts it, and ``b`` during one aborts it too (all traffic back to
the baseline in one step, never back through the steps).

The rollout itself is the fleet's truth (journal and rollout lock, read by the session
as :attr:`~backends.engine.session.FleetSession.seen`), so a rollout started by the CLI or by
another operator is paused, resumed and aborted the same way.
"""

from __future__ import annotations

from rich.text import Text

from backends.core import guards
from backends.core.baseline import baseline
from backends.core.errors import Refused
from backends.core.model import FleetSnapshot
from backends.core.rollout import Plan, RolloutState
from backends.engine.rollout_driver import RolloutAborted
from backends.engine.updates import InFlight
from tui.formatting import literal, staged_text
from tui.modals.confirm import ConfirmationModal
from tui.rollout_view import active
from tui.screens.fleet_view import FleetView, say_refused


class RolloutControls:
    """The fleet view's part that starts, pauses, resumes and aborts rollouts."""

    def __init__(self, view: FleetView) -> None:
        self.view = view
        #: this view aborted the rollout it drives: the driver's "aborted" is no news
        self.aborted_here = False

    @property
    def plan(self) -> Plan:
        """The fleet's rollout plan (``[fleets.NAME.rollout]``), else Molt's default."""
        return self.view.session.fleet.rollout or Plan()

    def start(self) -> None:
        """``R``: confirm, then roll the selected generation out (refused, naming the
        rollout under way and how to go on, while one runs)."""
        target, snapshot = self.view.selected_generation, self.view.snapshot
        if target is None or snapshot is None:
            return
        running = self.view.rollout
        if running is not None and active(running):
            then = (
                "space drives it on from here, A aborts it"
                if running.state is RolloutState.INTERRUPTED
                else "one rollout at a time"
            )
            say_refused(
                self.view,
                Refused(
                    f"fleet {self.view.session.name} already has a rollout of "
                    f"{running.generation} ({running.state.value}, by {running.by}); {then}"
                ),
            )
            return
        base = baseline(snapshot, target.id)
        if base is None:
            say_refused(
                self.view,
                Refused(
                    f"no generation older than {target.id} carries traffic to judge it "
                    "against; promote one first"
                ),
            )
            return
        plan = self.plan
        try:
            first = _first_step(snapshot, target.id, base.id, plan.steps[0])
        except Refused as refusal:
            say_refused(self.view, refusal)
            return
        body = Text.assemble(
            f"{target.id} (",
            literal(target.version),
            f") moves through the steps below, judged at each against its baseline {base.id} (",
            literal(base.version),
            f", {base.weight}%). The first failed check sends all traffic back to "
            f"{base.id} at once.\n\n",
            (plan.describe(), "bold"),
            f"\n\nFirst step: {staged_text(snapshot.weights, first)}",
        )
        modal = ConfirmationModal(f"Roll out {target.id}?", body, "Start rollout")

        def chosen(yes: bool | None) -> None:
            if yes:
                self.aborted_here = False
                self.view.session.start_rollout(target.id, plan)

        self.view.app.push_screen(modal, chosen)

    def pause(self) -> None:
        self.view.session.pause_rollout()

    def resume(self) -> None:
        self.view.session.resume_rollout()

    def abort(self) -> None:
        self._ask_abort(
            "Abort the rollout of {g}?",
            "The rollout ends; R starts a new one.",
            reason="",
        )

    def roll_back(self) -> None:
        """``b`` during a rollout aborts it: all traffic to the baseline at once."""
        by = self.view.session.operator or "an operator"
        self._ask_abort(
            "Roll back: abort the rollout of {g}?",
            "A rollback during a rollout aborts it, in one step (not back through the steps).",
            reason=f"rolled back by {by}",
        )

    def _ask_abort(self, title: str, why: str, *, reason: str) -> None:
        rollout, snapshot = self.view.rollout, self.view.snapshot
        if rollout is None or snapshot is None:
            return
        after = dict(snapshot.weights)
        if rollout.generation in after and rollout.baseline in after:
            after[rollout.baseline] += after[rollout.generation]
            after[rollout.generation] = 0
        body = (
            f"All traffic goes back to the baseline {rollout.baseline} at once.\n\n"
            f"{staged_text(snapshot.weights, after) or 'the weights already are there'}"
            f"\n\n{why}"
        )
        modal = ConfirmationModal(title.format(g=rollout.generation), body, "Abort rollout")

        def chosen(yes: bool | None) -> None:
            if yes:
                self.aborted_here = True
                self.view.session.abort_rollout(reason)

        self.view.app.push_screen(modal, chosen)

    def took_failure(self, operation: InFlight) -> bool:
        """The rollout this view drives ends "aborted" when this view aborted it: the
        abort's own toast says so. Aborted by its checks or by someone else: shown."""
        aborted = isinstance(operation.error, RolloutAborted)
        if operation.action == "rollout" and aborted and self.aborted_here:
            self.aborted_here = False
            return True
        return False


def _first_step(snapshot: FleetSnapshot, generation: str, base: str, weight: int) -> dict[str, int]:
    """The weights of a rollout's first step, previewed with the shift's own guards."""
    weights = dict(snapshot.weights)
    others = sum(w for g, w in weights.items() if g not in (generation, base))
    if weight + others > 100:
        raise Refused(f"other generations carry {others}%: a first step of {weight}% does not fit")
    weights[generation], weights[base] = weight, 100 - weight - others
    return guards.plan_weights(snapshot, weights)
