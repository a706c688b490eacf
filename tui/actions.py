"""The one action table: every key of Molt's screens, what it does, when it applies.

Each :class:`Action` row is the single source for the key's binding (so its footer
entry) and, in the fleet view, its ``?`` help row, its command palette entry and
whether ``check_action`` allows it now. Adding a key is adding a row. A row's place in
the table is its place in the footer and in the help (the footer shows rows in table
order, at most as many as fit), and for keys bound twice (``enter``, ``escape``, ``R``,
``space``) the first row that applies wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.binding import Binding, BindingType

from backends.core.rollout import RolloutState
from tui.staging import STEP


@dataclass(frozen=True, slots=True)
class Situation:
    """What the keys depend on, read from the fleet view at one moment."""

    generations: int = 0
    weighted: bool = False  # some generation carries traffic
    chosen: bool = False  # a generation is selected
    chosen_has_instances: bool = False
    staged: bool = False
    filtering: bool = False
    filtered: bool = False  # a filter is kept (enter), the input closed
    rollout: RolloutState | None = None  # the fleet's rollout, if one has not ended
    fleets: int = 1
    read_only: bool = False

    @property
    def rolling(self) -> bool:
        return self.rollout is not None


When = Callable[[Situation], bool]
FLEET = "fleet"
ESTATE = "estate"  # every fleet at once: the first screen when molt.toml has several
CHANGES = "changes"  # what changed across the estate, newest first
DEFAULT_RANK = 1  # promote, retire, rollout: the palette and `?` have them when cut
OFTEN = 2  # what the first minutes and an incident need: launch, select, shift, inspect…
NOW = 3  # keys shown only while they apply (apply, drop, pause, abort): the moment's own
ALWAYS = 4  # help and quit: a newcomer's way in and out


def always(_: Situation) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Action:
    """One row of the table.

    Attributes:
        action: the action string the key runs (``stage(10)``); its name before ``(``
            is what ``check_action`` is asked about.
        keys: Textual key names, comma-separated.
        description: the footer's word, and the help's.
        tooltip: a longer line, for hover and for the help.
        when: whether it applies now (else it is hidden from footer and palette).
        mutating: changes the fleet: refused in read-only mode.
        refused_as: the name a read-only refusal gives it (rows sharing one share a key).
        footer: shown in the footer (the help lists those first).
        help: listed in the help after the footer's keys (keys not in the footer).
        palette: the palette's title, ``{chosen}`` the selected generation ("" none).
        palette_help: the palette's second line.
        group: footer group shared by neighbouring rows (``← →``, ``+ -``).
        group_help: the help's line for the whole group.
        key_display: how the key is drawn, when not its name.
        id: the binding's id (so a keymap can override it); default: the name.
        screen: the screen it belongs to (``fleet``, ``estate``, ``changes``, ``inspect``,
            ``timeline``, ``logs``).
        rank: how long it stays in a narrow footer: the lowest rank leaves first (the
            rightmost of equals), ``?`` and ``q`` never (see :mod:`tui.footer_fit`).
    """

    action: str
    keys: str
    description: str
    tooltip: str = ""
    when: When = always
    mutating: bool = False
    refused_as: str = ""
    footer: bool = True
    help: bool = False
    palette: str = ""
    palette_help: str = ""
    group: str = ""
    group_help: str = ""
    key_display: str | None = None
    id: str = ""
    screen: str = FLEET
    rank: int = DEFAULT_RANK

    @property
    def name(self) -> str:
        return self.action.partition("(")[0]


# when a key applies (Situation → bool), named so the table reads as a sentence
def _generations(s: Situation) -> bool:
    return s.generations > 0


def _chosen(s: Situation) -> bool:
    return s.chosen


def _shiftable(s: Situation) -> bool:
    return s.chosen and s.generations > 1


def _staged(s: Situation) -> bool:
    return s.staged


def _rolling(s: Situation) -> bool:
    return s.rolling


def _running(s: Situation) -> bool:
    return s.rollout is RolloutState.RUNNING


def _held(s: Situation) -> bool:
    return s.rolling and s.rollout is not RolloutState.RUNNING


_SHIFT_HELP = f"stage {STEP} points toward (+) or away from (-) the selected generation"
_STAGED_FIRST = "staged first; enter applies"
_PAUSE_RESUME = "pause or resume the rollout"

TABLE: tuple[Action, ...] = (
    Action("launch", "n", "launch", "launch a new generation (modal)",
           mutating=True, refused_as="launch",
           palette="Launch a new generation",
           palette_help="version, count and note in a dialog", rank=OFTEN),
    Action("select(-1)", "left", "select", "select the generation to the left",
           when=_generations, group="select", group_help="select the generation to the left "
           "or right", id="select_previous", rank=OFTEN),
    Action("select(1)", "right", "select", "select the generation to the right",
           when=_generations, group="select", id="select_next", rank=OFTEN),
    Action(f"stage({STEP})", "plus", "shift", f"stage {STEP} points toward the selected generation",
           when=_shiftable, mutating=True, refused_as="shift",
           palette=f"Shift {STEP} points toward {{chosen}}", palette_help=_STAGED_FIRST,
           group="shift", group_help=_SHIFT_HELP, key_display="+", id="stage_toward", rank=OFTEN),
    Action(f"stage({-STEP})", "minus", "shift",
           f"stage {STEP} points away from the selected generation",
           when=_shiftable, mutating=True, refused_as="shift",
           palette=f"Shift {STEP} points away from {{chosen}}", palette_help=_STAGED_FIRST,
           group="shift", key_display="-", id="stage_away", rank=OFTEN),
    Action("apply", "enter", "apply", "apply the staged weights", when=_staged, mutating=True,
           palette="Apply the staged shift",
           palette_help="the staged weights become live", rank=NOW),
    Action("close_filter", "escape", "close filter", when=lambda s: s.filtering, footer=False),
    Action("drop", "escape", "drop", "drop the staged weights; nothing changes",
           when=lambda s: s.staged and not s.filtering,
           palette="Drop the staged shift", palette_help="nothing changes", rank=NOW),
    Action("clear_filter", "escape", "clear filter", "show every event again",
           when=lambda s: s.filtered and not s.staged and not s.filtering, rank=NOW),
    # the last escape: home, when nothing else is open (it outlasts promote in a narrow footer)
    Action("estate", "escape", "estate", "back to the estate: every fleet at once",
           when=lambda s: s.fleets > 1 and not (s.staged or s.filtering or s.filtered),
           palette="Back to the estate", palette_help="every fleet at once"),
    Action("promote", "p", "promote", "all traffic to the selected generation (confirm)",
           when=_chosen, mutating=True, refused_as="promote",
           palette="Promote {chosen}", palette_help="all traffic to it (asks first)"),
    Action("rollback", "b", "rollback",
           "all traffic back to the previous healthy generation (confirm)",
           when=lambda s: s.generations > 1 and s.weighted, mutating=True, refused_as="rollback",
           palette="Roll back",
           palette_help="all traffic to the previous healthy generation (asks first)", rank=OFTEN),
    Action("retire", "r", "retire", "drain and destroy the selected generation (type its id)",
           when=_chosen, mutating=True, refused_as="retire",
           palette="Retire {chosen}", palette_help="drain, then destroy it (type its id)"),
    Action("rollout", "R", "rollout", "roll the selected generation out step by step, judged "
           "against its baseline (confirm)",
           when=lambda s: s.chosen and not s.rolling, mutating=True, refused_as="rollout",
           palette="Roll out {chosen}",
           palette_help="step by step, judged against its baseline (asks)"),
    # while a rollout runs `R` leaves the footer to space and A, and says why it waits
    Action("rollout_busy", "R", "rollout", when=_rolling, mutating=True, refused_as="rollout",
           footer=False),
    Action("pause_rollout", "space", "pause",
           "pause the fleet's rollout (the weights stay where they are)",
           when=_running, mutating=True, refused_as=_PAUSE_RESUME,
           palette="Pause the rollout", palette_help="the weights stay where they are", rank=NOW),
    Action("resume_rollout", "space", "resume",
           "resume the fleet's rollout (an interrupted one is driven on from here)",
           when=_held, mutating=True, refused_as=_PAUSE_RESUME,
           palette="Resume the rollout",
           palette_help="it goes on from its current step", rank=NOW),
    Action("abort_rollout", "A", "abort",
           "abort the fleet's rollout: all traffic back to its baseline at once (confirm)",
           when=_rolling, mutating=True, refused_as="abort the rollout",
           palette="Abort the rollout",
           palette_help="all traffic back to the baseline (asks first)", rank=NOW),
    Action("inspect", "enter", "inspect", "instances, spec and journal of the selected generation",
           when=lambda s: s.chosen and not s.staged,
           palette="Inspect {chosen}", palette_help="instances, spec and journal", rank=OFTEN),
    # the incident responder's keys only read; the footer is full at 120 columns: `?` has them
    Action("logs", "l", "logs",
           "what the selected generation's first instance prints, followed live",
           when=lambda s: s.chosen_has_instances, footer=False, help=True,
           palette="Logs of {chosen}", palette_help="its first instance's output, followed live"),
    Action("timeline", "t", "timeline",
           "actions, health incidents and traffic changes in time order, filterable",
           footer=False, help=True, palette="Timeline",
           palette_help="actions, health incidents and traffic changes in time order"),
    Action("diff", "d", "diff", "what changed from the previous generation to the selected one",
           when=_chosen, footer=False, help=True,
           palette="Diff {chosen} against the previous generation",
           palette_help="version, artifact, files"),
    Action("changes", "c", "changes",
           "what changed across the estate, newest first: launches, shifts, rollouts…",
           footer=False, help=True, palette="What changed across the estate",
           palette_help="every fleet's actions, merged by time", id="fleet.changes"),
    Action("filter", "slash", "filter", "filter events by text, generation (g3) or instance (g3-1)",
           key_display="/", palette="Filter events",
           palette_help="by text, generation (g3) or instance (g3-1)", rank=0),
    Action("fleets", "f", "fleets", "switch to another fleet", when=lambda s: s.fleets > 1, rank=0),
    Action("help", "question_mark", "help", "every key, and what the glyphs mean",
           key_display="?", palette="Help: keys and glyphs", rank=ALWAYS),
    Action("quit", "q", "quit", "close Molt; the fleet keeps running",
           palette="Quit Molt", palette_help="the fleet keeps running", rank=ALWAYS),
    # the screens the fleet view opens: escape goes back
    Action("back", "escape", "back", "back to the fleet view", screen="inspect"),
    # not in the footer yet: the inspect screenshot pins it (see the incident report)
    Action("logs", "l", "logs", "what the selected instance prints, followed live",
           footer=False, id="inspect.logs", screen="inspect"),
    Action("diff", "d", "diff", "what changed from the previous generation to this one",
           footer=False, id="inspect.diff", screen="inspect"),
    Action("back", "escape", "back", "back to the fleet view", screen="timeline"),
    Action("filter", "slash", "filter",
           "filter by text, generation (g3), instance (g3-1) or operator",
           key_display="/", id="timeline.filter", screen="timeline"),
    Action("back", "escape", "back", "back to where logs were opened", screen="logs"),
    Action("follow_end", "end,G", "follow", "jump to the newest line and keep following",
           key_display="end", id="logs.follow", screen="logs"),
    # the estate: one row per fleet
    Action("select(-1)", "up", "select", "select the fleet above", group="select",
           group_help="select the fleet above or below", id="estate.up", screen=ESTATE),
    Action("select(1)", "down", "select", "select the fleet below", group="select",
           id="estate.down", screen=ESTATE),
    Action("open", "enter", "open", "open the selected fleet (escape comes back here)",
           when=_chosen, palette="Open fleet {chosen}", palette_help="its generations and events",
           id="estate.open", screen=ESTATE),
    Action("close_filter", "escape", "close filter", when=lambda s: s.filtering, footer=False,
           id="estate.close_filter", screen=ESTATE),
    Action("clear_filter", "escape", "clear filter", "show every fleet again",
           when=lambda s: s.filtered and not s.filtering, id="estate.clear_filter", screen=ESTATE),
    Action("changes", "c", "changes",
           "what changed across the estate, newest first: launches, shifts, rollouts…",
           palette="What changed across the estate",
           palette_help="every fleet's actions, merged by time", id="estate.changes",
           screen=ESTATE),
    Action("filter", "slash", "filter", "filter fleets by name, backend, version or attention",
           key_display="/", palette="Filter fleets", palette_help="by name, backend, version or "
           "attention", id="estate.filter", screen=ESTATE),
    Action("help", "question_mark", "help", "every key, and what the glyphs mean",
           key_display="?", palette="Help: keys and glyphs", id="estate.help", screen=ESTATE),
    Action("quit", "q", "quit", "close Molt; the fleets keep running",
           palette="Quit Molt", palette_help="the fleets keep running", id="estate.quit",
           screen=ESTATE),
    # what changed: every fleet's actions, newest first
    Action("select(-1)", "up", "select", "select the change above", group="select",
           group_help="select the change above or below", id="changes.up", screen=CHANGES),
    Action("select(1)", "down", "select", "select the change below", group="select",
           id="changes.down", screen=CHANGES),
    Action("open", "enter", "open", "open that fleet with that change's generation selected",
           id="changes.open", screen=CHANGES),
    Action("since(1)", "plus", "since", "look further back (15m, 1h, 6h, 24h, 7d)",
           group="since", group_help="look further back (+) or less far (-)", key_display="+",
           id="changes.wider", screen=CHANGES),
    Action("since(-1)", "minus", "since", "look less far back", group="since",
           key_display="-", id="changes.narrower", screen=CHANGES),
    Action("back", "escape", "back", "back to where the changes were opened", screen=CHANGES,
           id="changes.back"),
)  # fmt: skip

KEY_NAMES = {"left": "←", "right": "→", "up": "↑", "down": "↓", "escape": "esc",
             "space": "space"}  # fmt: skip
PALETTE_KEY = ("ctrl+p", "command palette", "every action and fleet, searchable")
REFUSE = "refuse"  # the action a mutating key runs in read-only mode


def _of(screen: str, table: Iterable[Action]) -> list[Action]:
    return [row for row in table if row.screen == screen]


def bindings(screen: str = FLEET, table: Iterable[Action] = TABLE) -> list[BindingType]:
    """The bindings of ``screen``'s rows, then one ``refuse`` binding per refused name:
    a mutating key whose row is disabled (read-only) falls through to it."""
    rows = _of(screen, table)
    groups = {r.group: Binding.Group(r.group, compact=True) for r in rows if r.group}
    made: list[BindingType] = [
        Binding(
            row.keys,
            row.action,
            row.description,
            show=row.footer,
            key_display=row.key_display,
            group=groups.get(row.group),
            tooltip=row.tooltip,
            id=row.id or row.name,
        )
        for row in rows
    ]
    refused: dict[str, list[str]] = {}
    for row in rows:
        if row.refused_as:
            keys = refused.setdefault(row.refused_as, [])
            keys.extend(k for k in row.keys.split(",") if k not in keys)
    for name, keys in refused.items():
        description = f"{name} (refused: read-only)"
        made.append(Binding(",".join(keys), f"{REFUSE}('{name}')", description, show=False))
    return made


def enabled(
    action: str, state: Situation, table: Iterable[Action] = TABLE, screen: str = FLEET
) -> bool:
    """``check_action``: does ``action`` (a name, without its arguments) apply now?"""
    if action == REFUSE:
        return state.read_only
    for row in _of(screen, table):
        if row.name == action:
            return not (row.mutating and state.read_only) and row.when(state)
    return True  # not a fleet-view key (the app's own, a modal's)


def help_rows(
    read_only: bool, table: Iterable[Action] = TABLE, screen: str = FLEET
) -> list[tuple[str, str, str]]:
    """(keys, what, more) per footer row, a group's keys in one row; then the keys the
    footer has no room for, and the palette."""
    rows: list[tuple[str, str, str]] = []
    previous: Action | None = None
    listed = _of(screen, table)
    for row in listed:
        if not row.footer:
            continue
        keys = KEY_NAMES.get(row.keys, row.key_display or row.keys)
        if previous is not None and row.group and row.group == previous.group:
            shown, what, _ = rows[-1]
            rows[-1] = (f"{shown} {keys}", what, previous.group_help or row.tooltip)
            continue
        refused = " (refused: read-only)" if read_only and row.mutating else ""
        rows.append((keys, row.description + refused, row.tooltip))
        previous = row
    rows.extend((r.keys, r.description, r.tooltip) for r in listed if r.help)
    rows.append(PALETTE_KEY)
    return rows


def palette_rows(
    state: Situation,
    chosen: str | None,
    table: Iterable[Action] = TABLE,
    screen: str = FLEET,
    something: str = "the selected generation",
) -> list[tuple[str, str, str]]:
    """(title, help, action) per row the palette offers that applies now."""
    named = chosen or something
    return [
        (row.palette.format(chosen=named), row.palette_help, row.action)
        for row in _of(screen, table)
        if row.palette and enabled(row.name, state, table, screen)
    ]
