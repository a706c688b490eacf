"""What the operator asks of the fleet: launch, shift, promote, roll back, retire.

Each is an intent sent to the screen's :class:`~backends.engine.session.FleetSession`, which
runs it through its guarded :class:`~backends.engine.operations.Operations` (guards, journal,
read-only) and owns it until it ends: leaving the screen or the fleet never cancels it.
Confirmations preview the result with the same pure guards; when a guard refuses the
preview, the refusal is shown and nothing is sent — never an unconfirmed action that
might pass a moment later.

A staged shift is applied only to the fleet it was staged on (its revision): if another
operator or a rollout moved traffic meanwhile, the session refuses it as stale, and the
operator sees the weights then and now and confirms again — against the fleet as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text

from backends.contract import read_only_refusal
from backends.core import guards
from backends.core.errors import BackendError, Refused
from backends.core.model import FleetSnapshot, Generation
from backends.engine.operations import Stale
from backends.engine.updates import InFlight, describe
from tui.formatting import literal, staged_text, weights_text
from tui.modals.confirm import ConfirmationModal
from tui.modals.launch import LaunchModal
from tui.modals.retire import RetireModal
from tui.screens.fleet_updates import FleetUpdates
from tui.staging import CannotStage, stage_step

if TYPE_CHECKING:
    from backends.core.model import GenerationSpec


class FleetActions(FleetUpdates):
    """Mixed into :class:`~tui.screens.fleet.FleetScreen`."""

    snapshot: FleetSnapshot | None
    selected: str | None
    staged: dict[str, int] | None
    read_only: bool
    #: the fleet as it was when the staged shift began (what it is applied against)
    staged_on: FleetSnapshot | None
    #: staged shifts sent and not ended: operation number → (weights, fleet staged on)
    sent_staged: dict[int, tuple[dict[str, int], FleetSnapshot]]

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
        if self.staged is None:
            self.staged_on = self.snapshot
        try:
            self.staged = stage_step(self.snapshot, self.staged, self.selected, step)
        except CannotStage as reason:
            self.notify(reason.message, title="Nothing to shift", severity="warning", markup=False)

    def action_apply(self) -> None:
        if self.staged is None or self.snapshot is None:
            return
        weights, self.staged = self.staged, None
        self._send_staged(weights, self.staged_on or self.snapshot)

    def _send_staged(self, weights: dict[str, int], against: FleetSnapshot) -> None:
        was = staged_text(against.weights, weights)
        operation = self.session.shift(weights, was=was, expected=against.revision)
        self.sent_staged[operation.number] = (weights, against)

    def handled_error(self, operation: InFlight) -> bool:
        """A staged shift refused as stale asks again instead of only saying so (while
        its fleet is on screen; another fleet's view only tells)."""
        sent = self.sent_staged.pop(operation.number, None)
        if sent is None or not isinstance(operation.error, Stale):
            return False
        if self not in self.app.screen_stack:
            return False
        self.run_worker(
            self._ask_again(*sent), group="stale-shift", exclusive=True, exit_on_error=False
        )
        return True

    async def _ask_again(self, weights: dict[str, int], was: FleetSnapshot) -> None:
        """Read the fleet as it is, show then and now, and apply again only if confirmed."""
        try:
            now = await self.session.read()
            if set(now.weights) != set(weights):
                raise Refused("the fleet's generations changed since this shift was staged")
            if now.weights == weights:
                raise Refused(f"the fleet already has the staged weights ({weights_text(weights)})")
            guards.plan_weights(now, weights)
        except BackendError as error:
            self._refused(error, title="Staged shift dropped")
            return
        body = Text.assemble(
            "Traffic moved after this shift was staged (another operator, the CLI or a "
            "rollout). Nothing was changed.\n\n",
            ("when staged  ", "bold"),
            weights_text(was.weights),
            "\n",
            ("now          ", "bold"),
            weights_text(now.weights),
            "\n",
            ("staged       ", "bold"),
            weights_text(weights),
            "\n\nApplying it to the fleet as it is now: ",
            (staged_text(now.weights, weights), "bold"),
        )
        modal = ConfirmationModal("The fleet changed: apply the staged shift?", body, "Apply")

        def chosen(yes: bool | None) -> None:
            if yes:
                self._send_staged(weights, now)
            else:
                self.notify("staged shift dropped; nothing changed", timeout=3)

        self.app.push_screen(modal, chosen)

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
            f"All traffic goes to {target.id} ({literal(target.version)}, {target.state.value}, "
            f"{target.healthy_count()}/{len(target.instances)} healthy).\n\n"
            f"{staged_text(self.snapshot.weights, after)}"
        )
        modal = ConfirmationModal(f"Promote {target.id}?", body, "Promote")
        self.app.push_screen(modal, when_confirmed(lambda: self.session.promote(target.id)))

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
        self.app.push_screen(modal, when_confirmed(self.session.rollback))

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
        retire = when_confirmed(lambda: self.session.retire(target.id))
        self.app.push_screen(RetireModal(target), retire)

    # refusals ------------------------------------------------------------------------------
    def _refused(self, refusal: BackendError, *, title: str = "") -> None:
        shown, message = describe(refusal)
        self.notify(
            literal(message), title=title or shown, severity="warning", timeout=10, markup=False
        )

    def action_refuse(self, action: str) -> None:
        """A mutating key typed in read-only mode: say so, change nothing."""
        self._refused(read_only_refusal(action))


def when_confirmed(act: Callable[[], object]) -> Callable[[bool | None], None]:
    """A modal's answer: ``act`` on yes, nothing on no (returning nothing, as Textual's
    callbacks must)."""

    def chosen(yes: bool | None) -> None:
        if yes:
            act()

    return chosen
