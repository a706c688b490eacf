"""The fleet view's keys: every binding with a description (the footer), a tooltip
(hover and ``?`` help) and an id (so a keymap can override it)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from tui.staging import STEP

SELECT = Binding.Group("select", compact=True)
SHIFT = Binding.Group("shift", compact=True)
MUTATING = frozenset(
    {
        "launch",
        "stage",
        "apply",
        "promote",
        "rollback",
        "retire",
        "rollout",
        "rollout_busy",
        "pause_rollout",
        "resume_rollout",
        "abort_rollout",
    }
)
KEY_NAMES = {"left": "←", "right": "→", "escape": "esc", "space": "space"}
GROUP_HELP = {
    "select": "select the generation to the left or right",
    "shift": f"stage {STEP} points toward (+) or away from (-) the selected generation",
}


def _refuse(keys: str, action: str) -> Binding:
    return Binding(keys, f"refuse('{action}')", f"{action} (refused: read-only)", show=False)


#: the incident responder's keys: they only read, so read-only mode keeps them. Not in
#: the footer, which is full at 120 columns: `?` lists them.
READING: list[BindingType] = [
    Binding(
        "l",
        "logs",
        "logs",
        show=False,
        id="logs",
        tooltip="what the selected generation's first instance prints, followed live",
    ),
    Binding(
        "t",
        "timeline",
        "timeline",
        show=False,
        id="timeline",
        tooltip="actions, health incidents and traffic changes in time order, filterable",
    ),
    Binding(
        "d",
        "diff",
        "diff",
        show=False,
        id="diff",
        tooltip="what changed from the previous generation to the selected one",
    ),
]

KEYS: list[BindingType] = [
    Binding("n", "launch", "launch", tooltip="launch a new generation (modal)", id="launch"),
    Binding(
        "left",
        "select(-1)",
        "select",
        group=SELECT,
        id="select_previous",
        tooltip="select the generation to the left",
    ),
    Binding(
        "right",
        "select(1)",
        "select",
        group=SELECT,
        id="select_next",
        tooltip="select the generation to the right",
    ),
    Binding(
        "plus",
        f"stage({STEP})",
        "shift",
        key_display="+",
        group=SHIFT,
        id="stage_toward",
        tooltip=f"stage {STEP} points toward the selected generation",
    ),
    Binding(
        "minus",
        f"stage({-STEP})",
        "shift",
        key_display="-",
        group=SHIFT,
        id="stage_away",
        tooltip=f"stage {STEP} points away from the selected generation",
    ),
    Binding("enter", "apply", "apply", id="apply", tooltip="apply the staged weights"),
    Binding("escape", "close_filter", "close filter", show=False, id="close_filter"),
    Binding(
        "escape", "drop", "drop", id="drop", tooltip="drop the staged weights; nothing changes"
    ),
    Binding(
        "p",
        "promote",
        "promote",
        id="promote",
        tooltip="all traffic to the selected generation (confirm)",
    ),
    Binding(
        "b",
        "rollback",
        "rollback",
        id="rollback",
        tooltip="all traffic back to the previous healthy generation (confirm)",
    ),
    Binding(
        "r",
        "retire",
        "retire",
        id="retire",
        tooltip="drain and destroy the selected generation (type its id)",
    ),
    Binding(
        "R",
        "rollout",
        "rollout",
        id="rollout",
        tooltip="roll the selected generation out step by step, judged against its baseline"
        " (confirm)",
    ),
    # while a rollout runs `R` leaves the footer to space and A, and says why it waits
    Binding("R", "rollout_busy", "rollout", show=False, id="rollout_busy"),
    Binding(
        "space",
        "pause_rollout",
        "pause",
        id="pause_rollout",
        tooltip="pause the fleet's rollout (the weights stay where they are)",
    ),
    Binding(
        "space",
        "resume_rollout",
        "resume",
        id="resume_rollout",
        tooltip="resume the fleet's rollout (an interrupted one is driven on from here)",
    ),
    Binding(
        "A",
        "abort_rollout",
        "abort",
        id="abort_rollout",
        tooltip="abort the fleet's rollout: all traffic back to its baseline at once (confirm)",
    ),
    Binding(
        "enter",
        "inspect",
        "inspect",
        id="inspect",
        tooltip="instances, spec and journal of the selected generation",
    ),
    Binding(
        "slash",
        "filter",
        "filter",
        key_display="/",
        id="filter",
        tooltip="filter events by text, generation (g3) or instance (g3-1)",
    ),
    *READING,
    Binding("f", "fleets", "fleets", id="fleets", tooltip="switch to another fleet"),
    Binding(
        "question_mark",
        "help",
        "help",
        key_display="?",
        id="help",
        tooltip="every key, and what the glyphs mean",
    ),
    Binding("q", "quit", "quit", id="quit", tooltip="close Molt; the fleet keeps running"),
    _refuse("n", "launch"),
    _refuse("plus,minus", "shift"),
    _refuse("p", "promote"),
    _refuse("b", "rollback"),
    _refuse("r", "retire"),
    _refuse("R", "rollout"),
    _refuse("space", "pause or resume the rollout"),
    _refuse("A", "abort the rollout"),
]


def help_rows(read_only: bool) -> list[tuple[str, str, str]]:
    """(keys, what, more) per shown binding; a group's keys share one row."""
    rows: list[tuple[str, str, str]] = []
    previous: Binding | None = None
    for binding in KEYS:
        assert isinstance(binding, Binding)
        if not binding.show:
            continue
        keys = KEY_NAMES.get(binding.key, binding.key_display or binding.key)
        if previous is not None and binding.group and binding.group == previous.group:
            shown, what, more = rows[-1]
            rows[-1] = (f"{shown} {keys}", what, GROUP_HELP.get(what, more))
            continue
        action = binding.action.partition("(")[0]
        refused = " (refused: read-only)" if read_only and action in MUTATING else ""
        rows.append((keys, binding.description + refused, binding.tooltip))
        previous = binding
    for binding in READING:
        assert isinstance(binding, Binding)
        rows.append((binding.key, binding.description, binding.tooltip))
    rows.append(("ctrl+p", "command palette", "every action and fleet, searchable"))
    return rows
