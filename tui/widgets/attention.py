"""What an operator must know beyond the generations: the fleet's rollout wherever it
is driven, actions Molt was stopped in the middle of (with the command that finishes
each) and who holds the fleet lock. Hidden when there is nothing to say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from rich.text import Text
from textual.widgets import Static

from backends.core.interrupted import again
from backends.core.journal import JournalRecord
from backends.core.locking import Lease
from backends.core.rollout import Rollout, RolloutState
from tui.formatting import clock_time, literal

SHOWN = 3  # interrupted actions listed; `molt status` has them all
INTERRUPTED = "⚠"
LOCKED = "⊘"
ROLLING = "↠"  # a rollout that has not ended, driven here, from the CLI or by no one


def rollout_lines(
    rollout: Rollout | None, driven_by: str, *, can_act: bool, here: bool = False
) -> list[Text]:
    """``↠ rollout of g2 against g1: running, step 1/4 (10%) — driven by alice (laptop
    pid 4242)``, as ``molt status`` says it, for a rollout that has not ended — driven by
    this Molt (``here``: "driven by this Molt"), another one or the command line; one no
    one drives says how to go on."""
    if rollout is None or rollout.ended:
        return []
    steps = len(rollout.plan.steps)
    line = Text.assemble(
        (f"{ROLLING} rollout of {rollout.generation} against {rollout.baseline}: ", "bold"),
        (rollout.state.value, "bold"),
        f", step {rollout.step}/{steps} ({rollout.weight}%)",
    )
    if rollout.reason:
        line.append(" — " + literal(rollout.reason))
    if rollout.state is RolloutState.RUNNING and (driven_by or here):
        line.append(" — driven by " + ("this Molt" if here else literal(driven_by)))
    elif rollout.state is not RolloutState.RUNNING and can_act:
        going_on = "drives it on" if not driven_by else "resumes it"
        line.append(f" — space {going_on}, A aborts")
    return [line]


def attention_lines(
    fleet: str,
    interrupted: Sequence[JournalRecord],
    lock: Lease | None,
    tz: tzinfo | None = None,
) -> list[Text]:
    """``⚠ interrupted 14:02:11: alice launch v4 ×2 — finish it: molt launch web …`` per
    action cut short, and ``⊘ bob (laptop) holds the fleet lock: shift g1=50 g2=50,
    since 14:01:58``."""
    lines = []
    for record in interrupted[:SHOWN]:
        lines.append(
            Text.assemble(
                (f"{INTERRUPTED} interrupted ", "bold"),
                f"{clock_time(record.at, tz)}: ",
                literal(f"{record.operator} {record.summary()}"),
                " — finish it: ",
                (literal(again(record, fleet)), "bold"),
            )
        )
    if len(interrupted) > SHOWN:
        lines.append(Text(f"  +{len(interrupted) - SHOWN} more: molt status {fleet}", "dim"))
    if lock is not None:
        host = f" ({literal(lock.host)})" if lock.host else ""
        lines.append(
            Text.assemble(
                (f"{LOCKED} {literal(lock.holder)}{host}", "bold"),
                " holds the fleet lock: ",
                literal(lock.action),
                f", since {clock_time(lock.since, tz)}",
            )
        )
    return lines


class AttentionBar(Static):
    """Between the generations and the status line, only while it has something."""

    DEFAULT_CSS = """
    AttentionBar {
        height: auto;
        max-height: 5;
        padding: 0 1;
        background: $warning 20%;
        display: none;
    }
    """

    def show_lines(self, lines: list[Text]) -> None:
        self.display = bool(lines)
        self.update(Text("\n").join(lines))
