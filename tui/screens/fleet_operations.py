"""What the operator asks of the fleet: launch, shift, promote, roll back, retire.

Each is an intent sent to the view's :class:`~backends.engine.session.FleetSession`, which
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

from collections.abc import Callable, Sequence

from rich.text import Text

from backends.contract import read_only_refusal
from backends.core import guards
from backends.core.errors import BackendError, Refused
from backends.core.model import FleetSnapshot, Generation, GenerationSpec, GenerationState
from backends.engine.operations import Stale
from backends.engine.updates import InFlight
from tui.formatting import literal, staged_text, weights_text
from tui.modals.confirm import ConfirmationModal
from tui.modals.launch import LaunchModal
from tui.modals.retire import RetireModal
from tui.screens.fleet_view import FleetView, say_refused
from tui.staging import CannotStage, stage_step


class FleetOperations:
    """The fleet view's part that asks the session to change the fleet."""

    def __init__(self, view: FleetView) -> None:
        self.view = view
        #: the fleet as it was when the staged shift began (what it is applied against)
        self.staged_on: FleetSnapshot | None = None
        #: staged shifts sent and not ended: operation number → (weights, fleet staged on)
        self.sent_staged: dict[int, tuple[dict[str, int], FleetSnapshot]] = {}

    # launch ---------------------------------------------------------------------------
    def launch(self) -> None:
        snapshot = self.view.snapshot
        generations = snapshot.generations if snapshot else ()
        live = _live(generations)
        session = self.view.session
        fleet, driver = session.fleet, session.driver
        count = live.count if live else getattr(fleet.settings, "count", None)
        default = driver.default_artifact(fleet.settings)
        modal = LaunchModal(
            fleet.name,
            live.version if live else "",
            count,
            artifact_label=driver.artifact_label,
            default_artifact=default,
            artifact_required=driver.artifact_required and not default,
            running={g.version: g.id for g in generations},
        )
        self.view.app.push_screen(modal, self._launch_chosen)

    def _launch_chosen(self, spec: GenerationSpec | None) -> None:
        if spec is not None:
            self.view.session.launch(spec)

    # shifting ---------------------------------------------------------------------------
    def stage(self, step: int) -> None:
        view = self.view
        if view.snapshot is None or view.selected is None:
            return
        if view.staged is None:
            self.staged_on = view.snapshot
        try:
            view.staged = stage_step(view.snapshot, view.staged, view.selected, step)
        except CannotStage as reason:
            view.app.notify(
                reason.message, title="Nothing to shift", severity="warning", markup=False
            )

    def apply(self) -> None:
        view = self.view
        if view.staged is None or view.snapshot is None:
            return
        weights, view.staged = view.staged, None
        self._send_staged(weights, self.staged_on or view.snapshot)

    def drop(self) -> None:
        self.view.staged = None
        self.view.app.notify("staged shift dropped; nothing changed", timeout=3)

    def _send_staged(self, weights: dict[str, int], against: FleetSnapshot) -> None:
        was = staged_text(against.weights, weights)
        operation = self.view.session.shift(weights, was=was, expected=against.revision)
        self.sent_staged[operation.number] = (weights, against)

    def took_failure(self, operation: InFlight) -> bool:
        """A staged shift refused as stale asks again instead of only saying so (while
        its fleet is on screen; another fleet's view only tells)."""
        sent = self.sent_staged.pop(operation.number, None)
        if sent is None or not isinstance(operation.error, Stale):
            return False
        if not self.view.on_stack():
            return False
        self.view.app.run_worker(
            self._ask_again(*sent),
            group=f"stale-shift:{self.view.session.name}",
            exclusive=True,
            exit_on_error=False,
        )
        return True

    async def _ask_again(self, weights: dict[str, int], was: FleetSnapshot) -> None:
        """Read the fleet as it is, show then and now, and apply again only if confirmed."""
        try:
            now = await self.view.session.read()
            if set(now.weights) != set(weights):
                raise Refused("the fleet's generations changed since this shift was staged")
            if now.weights == weights:
                raise Refused(f"the fleet already has the staged weights ({weights_text(weights)})")
            guards.plan_weights(now, weights)
        except BackendError as error:
            say_refused(self.view, error, title="Staged shift dropped")
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
                self.view.app.notify("staged shift dropped; nothing changed", timeout=3)

        self.view.app.push_screen(modal, chosen)

    # promote, rollback ------------------------------------------------------------------
    def promote(self) -> None:
        target, snapshot = self.view.selected_generation, self.view.snapshot
        if target is None or snapshot is None:
            return
        try:
            after = guards.plan_promote(snapshot, target.id)
        except Refused as refusal:
            say_refused(self.view, refusal)
            return
        body = (
            f"All traffic goes to {target.id} ({literal(target.version)}, {target.state.value}, "
            f"{target.healthy_count()}/{len(target.instances)} healthy).\n\n"
            f"{staged_text(snapshot.weights, after)}"
        )
        modal = ConfirmationModal(f"Promote {target.id}?", body, "Promote")
        session = self.view.session
        self.view.app.push_screen(modal, when_confirmed(lambda: session.promote(target.id)))

    def rollback(self) -> None:
        """All traffic to the previous healthy generation (not during a rollout: then
        :meth:`~tui.screens.fleet_rollouts.RolloutControls.roll_back` aborts it)."""
        snapshot = self.view.snapshot
        if snapshot is None:
            return
        try:
            target, after = guards.plan_rollback(snapshot)
        except Refused as refusal:
            say_refused(self.view, refusal)
            return
        body = f"All traffic goes back to {target}.\n\n{staged_text(snapshot.weights, after)}"
        modal = ConfirmationModal(f"Roll back to {target}?", body, "Roll back")
        self.view.app.push_screen(modal, when_confirmed(self.view.session.rollback))

    # retire -----------------------------------------------------------------------------
    def retire(self) -> None:
        target, snapshot = self.view.selected_generation, self.view.snapshot
        if target is None or snapshot is None:
            return
        try:
            guards.check_retire(snapshot, target.id)
        except Refused as refusal:
            say_refused(self.view, refusal)
            return
        session = self.view.session
        retire = when_confirmed(lambda: session.retire(target.id))
        self.view.app.push_screen(RetireModal(target), retire)

    def refuse(self, action: str) -> None:
        """A mutating key typed in read-only mode: say so, change nothing."""
        say_refused(self.view, read_only_refusal(action))


def when_confirmed(act: Callable[[], object]) -> Callable[[bool | None], None]:
    """A modal's answer: ``act`` on yes, nothing on no (returning nothing, as Textual's
    callbacks must)."""

    def chosen(yes: bool | None) -> None:
        if yes:
            act()

    return chosen


def _live(generations: Sequence[Generation]) -> Generation | None:
    """What a new launch starts from: the generation with the most weight (what serves),
    else the newest that did not fail — never a failed one (``n``, ``enter`` would launch
    the bad version again)."""
    weighted = [g for g in generations if g.weight]
    if weighted:
        return max(weighted, key=lambda g: g.weight)
    healthy = [g for g in generations if g.state is not GenerationState.FAILED]
    return healthy[-1] if healthy else None
