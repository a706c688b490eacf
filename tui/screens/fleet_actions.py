"""What the operator asks of the fleet: launch, shift, promote, roll back, retire.

Every mutation goes through :class:`backends.operations.Operations` (guards, journal,
read-only), which checks again against a fresh read. Confirmations preview the result
with the same pure guards; when a guard refuses the preview, the refusal is shown and
nothing is sent — never an unconfirmed action that might pass a moment later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends import guards
from backends.config import FleetConfig
from backends.errors import BackendError, Refused
from backends.model import FleetSnapshot, Generation
from tui.formatting import staged_text, weights_text
from tui.messages import OperationDone
from tui.modals.confirm import ConfirmationModal
from tui.modals.launch import LaunchModal
from tui.modals.retire import RetireModal
from tui.screens.fleet_workers import FleetWorkers, describe
from tui.staging import CannotStage, stage_step

if TYPE_CHECKING:
    from backends.model import GenerationSpec


def artifact_field(fleet: FleetConfig) -> tuple[str, str, bool]:
    """(label, the fleet's default, whether one must be typed) of what a launch freezes:
    an AMI on AWS (molt.toml's ``image`` is optional there), else a directory."""
    settings = fleet.settings
    if fleet.backend == "aws":
        image = str(getattr(settings, "image", None) or "")
        return "Image (AMI)", image, not image
    return "Artifact directory", str(getattr(settings, "artifact", "") or ""), False


class FleetActions(FleetWorkers):
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
        count = newest.count if newest else getattr(self.fleet.settings, "count", None)
        label, default, required = artifact_field(self.fleet)
        modal = LaunchModal(
            self.fleet.name,
            newest.version if newest else "",
            count,
            artifact_label=label,
            default_artifact=default,
            artifact_required=required,
        )
        self.app.push_screen(modal, self._launch_chosen)

    def _launch_chosen(self, spec: GenerationSpec | None) -> None:
        if spec is None:
            return

        async def launch() -> OperationDone:
            generation = await self.ops.launch(self.fleet.name, spec)
            return OperationDone(
                f"{generation.id} launched: {generation.version} × {generation.count}",
                generation,
            )

        self.run_operation(f"launching {spec.version}", launch)

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
        was = staged_text(self.snapshot.weights, weights)

        async def shift() -> OperationDone:
            applied = await self.ops.shift(self.fleet.name, weights)
            return OperationDone(f"shifted: {weights_text(applied)} ({was})")

        self.run_operation(f"shifting {weights_text(weights)}", shift)

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
        self.app.push_screen(modal, lambda yes: self._promote(target.id) if yes else None)

    def _promote(self, generation: str) -> None:
        async def promote() -> OperationDone:
            weights = await self.ops.promote(self.fleet.name, generation)
            return OperationDone(f"{generation} promoted: {weights_text(weights)}")

        self.run_operation(f"promoting {generation}", promote)

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
        self.app.push_screen(modal, lambda yes: self._rollback() if yes else None)

    def _rollback(self) -> None:
        async def rollback() -> OperationDone:
            weights = await self.ops.rollback(self.fleet.name)
            return OperationDone(f"rolled back: {weights_text(weights)}")

        self.run_operation("rolling back", rollback)

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
            RetireModal(target), lambda yes: self._retire(target.id) if yes else None
        )

    def _retire(self, generation: str) -> None:
        async def retire() -> OperationDone:
            await self.ops.retire(self.fleet.name, generation)
            return OperationDone(f"{generation} retired")

        self.run_operation(f"retiring {generation} (draining)", retire)

    # refusals ------------------------------------------------------------------------------
    def _refused(self, refusal: BackendError) -> None:
        title, message = describe(refusal)
        self.notify(message, title=title, severity="warning", timeout=10)

    def action_refuse(self, action: str) -> None:
        """A mutating key typed in read-only mode: say so, change nothing."""
        self._refused(
            Refused(f"read-only mode: {action} is not allowed (start Molt without --read-only)")
        )
