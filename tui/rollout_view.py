"""What a generation's column says about the fleet's rollout: ``rollout 2/4 · 25% ·
bake 0:41 · ✓ health ✓ 5xx ✓ p99``. Pure functions (no Textual).

The rollout comes from the fleet's truth (``session.seen.rollout``: the journal and the
rollout lock), so a rollout driven by this Molt, by the CLI or by another operator reads
the same; the checks are judged again on the snapshot on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backends.core.model import FleetSnapshot
from backends.core.rollout import Rollout, RolloutState, judge_now
from backends.core.rollout_judge import EXTEND_AT_MOST, CheckState

#: an ended rollout (done, aborted) stays in its column this long, then makes room
SHOWN_AFTER_END = timedelta(minutes=10)

Span = tuple[str, str]  # (text, tone): tone is "", "title", "ok", "failed", "warning", "muted"
Piece = tuple[Span, ...]

STATE_TONES = {
    RolloutState.PAUSED: "warning",
    RolloutState.INCONCLUSIVE: "warning",
    RolloutState.INTERRUPTED: "failed",
    RolloutState.ABORTED: "failed",
    RolloutState.DONE: "ok",
}


@dataclass(frozen=True, slots=True)
class RolloutView:
    """Pieces joined by `` · `` (wrapped between pieces), then a reason in words."""

    pieces: tuple[Piece, ...]
    reason: str = ""


def active(rollout: Rollout | None) -> bool:
    """A rollout that has not ended: running, paused, inconclusive or interrupted."""
    return rollout is not None and not rollout.ended


def rollout_view(
    rollout: Rollout | None, snapshot: FleetSnapshot | None, generation: str, now: datetime
) -> RolloutView | None:
    """What ``generation``'s column shows of ``rollout`` (None: nothing)."""
    if rollout is None or snapshot is None:
        return None
    if rollout.ended and now - rollout.since > SHOWN_AFTER_END:
        return None
    if generation == rollout.baseline and not rollout.ended:
        return RolloutView(
            ((("baseline", "title"),), (("rollout of ", "muted"), (rollout.generation, "")))
        )
    if generation != rollout.generation:
        return None
    steps = len(rollout.plan.steps)
    pieces: list[Piece] = [(("rollout", "title"), (f" {rollout.step}/{steps}", ""))]
    if rollout.step:
        pieces.append(((f"{rollout.weight}%", ""),))
    if rollout.state is RolloutState.RUNNING:
        pieces.append(((_bake_left(rollout, now), ""),))
    else:
        tone = STATE_TONES.get(rollout.state, "")
        pieces.append(((rollout.state.value.upper(), tone),))
    if not rollout.ended:
        pieces.extend(_evidence(snapshot, rollout, now))
    reason = rollout.reason if rollout.state is not RolloutState.RUNNING else ""
    return RolloutView(tuple(p for p in pieces if p), reason)


def _bake_left(rollout: Rollout, now: datetime) -> str:
    """``bake 0:41`` (the current step's bake time left); past the bake, ``holding 1:45``
    (time left before a step short of evidence ends inconclusive: a fixed deadline);
    ``starting`` before step 1."""
    if not rollout.step or rollout.step_since is None:
        return "starting"
    baked = rollout.step_since + timedelta(seconds=rollout.plan.bake)
    if now < baked:
        return f"bake {_minutes(baked - now)}"
    deadline = rollout.step_since + timedelta(seconds=rollout.plan.bake * EXTEND_AT_MOST)
    return f"holding {_minutes(deadline - now)}"


def _minutes(left: timedelta) -> str:
    seconds = max(0, int(left.total_seconds() + 0.999))
    return f"{seconds // 60}:{seconds % 60:02d}"


CHECK_MARKS = {
    CheckState.PENDING: ("…", "muted"),
    CheckState.HOLDING: ("◷", "warning"),
    CheckState.PASSED: ("✓", "ok"),
    CheckState.FAILED: ("✗", "failed"),
    CheckState.NOT_JUDGED: ("–", "muted"),
}


def _evidence(snapshot: FleetSnapshot, rollout: Rollout, now: datetime) -> list[Piece]:
    """``✓ health … 5xx 0/212 ◷ slow 3/900`` — each check as the judge sees it now:
    pending until judged, holding past the bake, passed or failed; then what it still
    needs (``needs ~420 more · ETA 0:35``)."""
    decision = judge_now(rollout, snapshot, now)
    if decision is None:
        return []
    spans: list[Span] = []
    for check in decision.checks:
        mark, tone = CHECK_MARKS[check.state]
        shown = check.measure
        if check.canary is not None:
            shown += f" {check.canary.bad}/{check.canary.requests}"
        spans.append(((" " if spans else "") + f"{mark} {shown}", tone))
    pieces: list[Piece] = [tuple(spans)]
    pieces.extend(((part, "muted"),) for part in decision.eta.split(" · ") if part)
    return pieces
