"""What the operator asks of the fleet: launch, shift, promote, roll back, retire.

Each is an intent sent to the screen's :class:`~backends.session.FleetSession`, which
runs it through its guarded :class:`~backends.operations.Operations` (guards, journal,
read-only) and owns it until it ends: leaving the screen or the fleet never cancels it.
Confirmations preview the result with the same pure guards; when a guard refuses the
preview, the refusal is shown and nothing is sent — never an unconfirmed action that
might pass a moment later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends import guards
from backends.base import read_only_refusal
from backends.errors import BackendError, Refused
from backends.model import FleetSnapshot, Generation
from backends.session import describe
from tui.formatting import staged_text
from tui.modals.confirm import ConfirmationModal
from tui.modals.launch import LaunchModal
from tui.modals.retire import RetireModal
from tui.screens.fleet_updates import FleetUpdates
from tui.staging import CannotStage, stage_step

if TYPE_CHECKING:
    from backends.model import GenerationSpec


class FleetActions(FleetUpdates):
    """Mixed into :class:`~tui.screens.fleet.FleetScreen`."""

    snapshot: FleetSnapshot | None
    selected: str | None
    staged: dict[str, int] | None
    read_only: bool

    @property
    def selected_generation(self) -> Generation | None:
        if self.snapshot is None or self.selected is None:
            return None
        return self.snapshot.generation(self.selected)

    # launch ---------------------------------------------------------------------------
    def action_launch(self) -> None:
        generations = self.snapshot.generations if self.snapshot else ()
        newest = generations[-1] if generations else None
        fleet, driver = self.session.fleet, self.session.driver
        count = newest.count if newest else getattr(fleet.settings, "count", None)
        default = driver.default_artifact(fleet.settings)
        modal = LaunchModal(
            fleet.name,
            newest.version if newest else "",
            count,
            artifact_label=driver.artifact_label,
            default_artifact=default,
            artifact_required=driver.artifact_required and not default,
        )
        self.app.push_screen(modal, self._launch_chosen)

    def _launch_chosen(self, spec: GenerationSpec | None) -> None:
        if spec is not None:
            self.session.launch(spec)

    # shifting ---------------------------------------------------------------------------
    def action_stage(self, step: int) -> None:
        if self.snapshot is None or self.selected is None:
            return
        try:
            self.staged = stage_step(self.snapshot, self.staged, self.selected, step)
        except CannotStage as reason:
            self.notify(reason.message, title="Nothing to shift", severity="warning")

    def action_apply(self) -> None:
        if self.staged is None or self.snapshot is None:
            return
        weights, self.staged = self.staged, None
        self.session.shift(weights, was=staged_text(self.snapshot.weights, weights))

    def action_drop(self) -> None:
        self.staged = None
        self.notify("staged shift dropped; nothing changed", timeout=3)

    # promote, rollback ------------------------------------------------------------------
    def action_promote(self) -> None:
        target = self.selected_generation
        if target is None or self.snapshot is None:
            return
        try:
            after = guards.plan_promote(self.snapshot, target.id)
        except Refused as refusal:
            self._refused(refusal)
            return
        body = (
            f"All traffic goes to {target.id} ({target.version}, {target.state.value}, "
            f"{target.healthy_count()}/{len(target.instances)} healthy).\n\n"
            f"{staged_text(self.snapshot.weights, after)}"
        )
        modal = ConfirmationModal(f"Promote {target.id}?", body, "Promote")
        self.app.push_screen(modal, lambda yes: self.session.promote(target.id) if yes else None)

    def action_rollback(self) -> None:
        if self.snapshot is None:
            return
        try:
            target, after = guards.plan_rollback(self.snapshot)
        except Refused as refusal:
            self._refused(refusal)
            return
        body = f"All traffic goes back to {target}.\n\n{staged_text(self.snapshot.weights, after)}"
        modal = ConfirmationModal(f"Roll back to {target}?", body, "Roll back")
        self.app.push_screen(modal, lambda yes: self.session.rollback() if yes else None)

    # retire -----------------------------------------------------------------------------
    def action_retire(self) -> None:
        target = self.selected_generation
        if target is None or self.snapshot is None:
            return
        try:
            guards.check_retire(self.snapshot, target.id)
        except Refused as refusal:
            self._refused(refusal)
            return
        self.app.push_screen(
            RetireModal(target), lambda yes: self.session.retire(target.id) if yes else None
        )

    # refusals ------------------------------------------------------------------------------
    def _refused(self, refusal: BackendError) -> None:
        title, message = describe(refusal)
        self.notify(message, title=title, severity="warning", timeout=10)

    def action_refuse(self, action: str) -> None:
        """A mutating key typed in read-only mode: say so, change nothing."""
        self._refused(read_only_refusal(action))
