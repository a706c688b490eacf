"""Launch a new generation: version (prefilled from the live generation, the one with
the most weight), count, note, and the artifact (a directory, or an AMI on AWS) when it
is not the fleet's default. A version the fleet runs already is said, not refused.

On a terminal under :data:`FULL_HEIGHT` rows the fields and buttons go compact (no
borders), so that all of it fits 80×24; shorter still, the dialog scrolls."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from backends.core import guards
from backends.core.errors import BackendError
from backends.core.model import GenerationSpec
from tui.formatting import literal

#: terminal rows the dialog in full fits (32, as it may take 90%); fewer: compact fields
FULL_HEIGHT = 36


class LaunchModal(ModalScreen[GenerationSpec | None]):
    """Returns the spec to launch, checked by the same guard the launch applies."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="launch.cancel")]
    AUTO_FOCUS = ""  # none: the version is focused on mount, without scrolling (see there)

    # a screen's CSS outranks app.tcss where it is more specific (DEFAULT_CSS never does);
    # the field labels' margin already keeps the body apart, and a problem takes a row
    # only when there is one: so the dialog in full is 32 rows, 90% of 36
    CSS = """
    .dialog .dialog-body { margin-bottom: 0; }
    .dialog #problem { display: none; }
    .dialog.-short {
        padding: 0 2;
        & .dialog-title { margin-bottom: 0; }
    }
    """

    def __init__(
        self,
        fleet: str,
        version: str = "",
        count: int | None = None,
        *,
        artifact_label: str = "Artifact directory",
        default_artifact: str = "",
        artifact_required: bool = False,
        running: Mapping[str, str] | None = None,
    ) -> None:
        """``running``: version → the generation that runs it (for the warning)."""
        super().__init__(classes="dialog-screen")
        self.fleet = fleet
        self.version = version
        self.count = count
        self.artifact_label = artifact_label
        self.default_artifact = default_artifact
        self.artifact_required = artifact_required
        self.running = dict(running or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", can_focus=False):
            title = Text(f"Launch a new generation of {literal(self.fleet)}")
            yield Label(title, classes="dialog-title")
            yield Static(
                "It starts beside the others at weight 0; shift traffic to it once healthy.",
                classes="dialog-body",
            )
            # the warning shares the label's line: the dialog is as tall as 36 rows allow
            version = self._version_label(self.version)
            yield Label(version, id="version-label", classes="field-label")
            yield Input(literal(self.version), placeholder="e.g. v2", id="version")
            yield Label("Instances", classes="field-label")
            count = "" if self.count is None else str(self.count)
            yield Input(count, placeholder="the fleet's default", type="integer", id="count")
            yield Label("Note (why)", classes="field-label")
            yield Input(placeholder="e.g. fixes the login timeout", id="note")
            yield Label(self.artifact_label, classes="field-label")
            hint = (
                f"default: {self.default_artifact}"
                if self.default_artifact
                else "the fleet's default"
            )
            if self.artifact_required:
                hint = "required: the fleet has no default"
            yield Input(placeholder=hint, id="artifact")
            yield Label("", id="problem", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Launch (enter)", variant="primary", id="launch")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self._fit()
        # it is near the top: scrolled to, it would hide the title on a short terminal
        self.set_focus(self.query_one("#version", Input), scroll_visible=False)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Compact on a short terminal, in full on a tall one (see :data:`FULL_HEIGHT`)."""
        short = self.app.size.height < FULL_HEIGHT
        self.query_one(".dialog").set_class(short, "-short")
        for field in [*self.query(Input), *self.query(Button)]:
            field.compact = short

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "version":
            self.query_one("#version-label", Label).update(self._version_label(event.value))

    def _version_label(self, version: str) -> Text:
        """``Version  ⚠ v1 already runs as g1`` when it does: a warning, not a refusal
        (relaunching a version is how a tainted generation is replaced)."""
        label = Text("Version")
        found = self.running.get(version.strip())
        if found:
            label.append(f"  ⚠ {literal(version.strip())} already runs as {found}", "bold")
        return label

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        version = self.query_one("#version", Input).value.strip()
        count_text = self.query_one("#count", Input).value.strip()
        note = self.query_one("#note", Input).value.strip()
        artifact = self.query_one("#artifact", Input).value.strip() or None
        if artifact is None and self.artifact_required:
            self._problem(f"{self.artifact_label} is required: the fleet has no default")
            return
        try:
            count = int(count_text) if count_text else None
        except ValueError:
            self._problem(f"instances must be a whole number, not {literal(repr(count_text))}")
            return
        try:
            guards.check_launch(version, count, note)
        except BackendError as refusal:  # Refused, or BadInput (a control character)
            self._problem(refusal.message)
            return
        self.dismiss(GenerationSpec(version=version, count=count, note=note, artifact=artifact))

    def _problem(self, text: str) -> None:
        problem = self.query_one("#problem", Label)
        problem.update(Text(text))
        problem.display = True
        # the row it takes may push the buttons below a short dialog's edge: keep both seen
        self.call_after_refresh(self.query_one(".dialog").scroll_end, animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)
