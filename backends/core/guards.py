"""Pure safety rules: what may be shifted, promoted, rolled back or retired.

Each function takes a :class:`FleetSnapshot` and the operator's request, and returns the
complete plan (the fleet's weights afterwards) or raises :class:`Refused` with the reason.
They never touch a backend, so they are property-tested on their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from backends.core.errors import BadInput, NotFound, Refused, shown
from backends.core.model import FleetSnapshot, Generation, GenerationState, Lifecycle
from backends.core.text import hidden_character

MAX_INSTANCES_PER_LAUNCH = 1000


def _find(snapshot: FleetSnapshot, generation_id: str) -> Generation:
    found = snapshot.generation(generation_id)
    if found is None:
        known = ", ".join(g.id for g in snapshot.generations) or "none"
        raise NotFound(
            f"fleet {snapshot.fleet} has no generation {shown(generation_id)} "
            f"(not retired: {known}); see `molt status {snapshot.fleet}`"
        )
    return found


def _carries_healthy_traffic(snapshot: FleetSnapshot, weights: Mapping[str, int]) -> bool:
    return any(weights.get(g.id, 0) > 0 and g.has_healthy for g in snapshot.generations)


def plan_weights(
    snapshot: FleetSnapshot, requested: Mapping[str, int], *, force: bool = False
) -> dict[str, int]:
    """The fleet's weights after a shift to ``requested``.

    Generations not named get 0. Rules: integers 0–100 over non-retired generations,
    summing to 100 (all 0 only while nothing carries traffic yet); no weight may rise on
    a generation without a healthy instance unless forced; traffic that reaches healthy
    instances now must still reach some afterwards.
    """
    for generation_id, weight in requested.items():
        target = _find(snapshot, generation_id)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise Refused(f"weight for {generation_id} must be a whole number 0–100, not {weight}")
        if target.state is GenerationState.DRAINING and weight > 0:
            raise Refused(f"{generation_id} is draining for retirement; it cannot take traffic")
    after = {g.id: int(requested.get(g.id, 0)) for g in snapshot.generations}
    total = sum(after.values())
    before_total = sum(snapshot.weights.values())
    if total != 100 and not (total == 0 and before_total == 0):
        shown = " ".join(f"{g}={w}" for g, w in after.items())
        raise Refused(f"weights must sum to 100, these sum to {total} ({shown})")
    for generation in snapshot.generations:
        rising = after[generation.id] > generation.weight
        if rising and not generation.has_healthy and not force:
            raise Refused(
                f"{generation.id} has no healthy instance ({generation.state.value}); "
                "it cannot receive traffic (use --force to override)"
            )
    if _carries_healthy_traffic(snapshot, snapshot.weights) and not _carries_healthy_traffic(
        snapshot, after
    ):
        raise Refused("this would leave no healthy generation carrying traffic")
    return after


def plan_promote(
    snapshot: FleetSnapshot, generation_id: str, *, force: bool = False
) -> dict[str, int]:
    """All traffic to one generation."""
    _find(snapshot, generation_id)
    return plan_weights(snapshot, {generation_id: 100}, force=force)


def rollback_target(snapshot: FleetSnapshot) -> Generation:
    """The most recent generation older than the newest live one that is healthy and
    not being retired."""
    live = [g for g in snapshot.generations if g.weight > 0]
    if not live:
        raise Refused(f"nothing to roll back: no generation of {snapshot.fleet} carries traffic")
    newest_live = max(live, key=lambda g: g.number)
    candidates = [
        g
        for g in snapshot.generations
        if g.number < newest_live.number
        and g.has_healthy
        and g.state not in (GenerationState.DRAINING, GenerationState.RETIRED)
    ]
    if not candidates:
        raise Refused(f"no healthy generation older than {newest_live.id} to roll back to")
    return max(candidates, key=lambda g: g.number)


def plan_rollback(snapshot: FleetSnapshot) -> tuple[str, dict[str, int]]:
    """(target generation, weights afterwards) for a rollback."""
    target = rollback_target(snapshot)
    return target.id, plan_weights(snapshot, {target.id: 100})


def check_carries_no_traffic(generation_id: str, weight: int, *, where: str = "") -> None:
    """A generation may be retired only once it carries no traffic: ``weight`` is the
    share it carries as the asker reads it (``where``: on what, when that says more,
    e.g. ``"on the listener"``). The engine asks it of a snapshot; each driver asks it
    again of its own read, under its own lock, right before it starts draining.

    Raises:
        Refused: it still carries traffic.
    """
    if weight > 0:
        on = f" {where}" if where else ""
        raise Refused(
            f"{generation_id} still carries {weight}% of traffic{on}; "
            "shift it to 0 (or promote another generation) before retiring it"
        )


def check_takes_traffic(
    generation_id: str, lifecycle: Lifecycle | str, weight: int, *, attached: bool = True
) -> None:
    """A driver gives a weight above 0 only to an ``active`` generation with somewhere to
    send it (``attached``: AWS asks whether its target group is on the load balancer).

    Raises:
        Refused: a weight above 0 for a generation that cannot take it.
    """
    if not weight:
        return
    if lifecycle != Lifecycle.ACTIVE:
        raise Refused(f"{generation_id} is {lifecycle}; it cannot take traffic")
    if not attached:
        raise Refused(f"{generation_id} has no target group attached; it cannot take traffic")


def check_keeps_healthy_traffic(
    carrying_now: Collection[str],
    carrying_after: Collection[str],
    *,
    change: str,
    serving: str = "generation",
    now: str = "",
    then: str = "shift first",
) -> None:
    """A driver putting its load balancer back as Molt recorded it (``molt apply``) may
    not take the traffic off everything healthy that carries it now.

    Args:
        carrying_now: what is healthy and carries traffic now (servers, target groups).
        carrying_after: what would, once ``change`` is made.
        change: the change, as the refusal names it.
        serving: what the load balancer sends traffic to, in the refusal's words.
        now: what carries it now, named in the refusal when it helps.
        then: what the operator should do instead.

    Raises:
        Refused: something carries traffic now and nothing would afterwards.
    """
    if carrying_now and not carrying_after:
        raise Refused(
            f"{change} would leave no healthy {serving} carrying traffic"
            + (f" (now: {now})" if now else "")
            + f"; nothing was changed — {then}"
        )


def check_retire(snapshot: FleetSnapshot, generation_id: str) -> Generation:
    """A generation may be retired only once it carries no traffic."""
    target = _find(snapshot, generation_id)
    check_carries_no_traffic(generation_id, target.weight)
    # a draining generation may be retired again: that resumes a retire that was cut
    # short (Molt killed mid-drain); each driver finishes or joins it
    return target


def interrupted_launch(snapshot: FleetSnapshot, version: str) -> str | None:
    """The generation a launch of ``version`` should finish instead of starting anew:
    one left ``launching`` by a launch that was cut short (asked under the fleet lock, so
    no launch is running). A launch of another version is refused while one is left."""
    left = [g for g in snapshot.generations if g.lifecycle is Lifecycle.LAUNCHING]
    for generation in left:
        if generation.version == version:
            return generation.id
    if left:
        g = left[0]
        raise Refused(
            f"{g.id} ({g.version}) was left launching by a launch that was cut short; "
            f"finish it with `molt launch {snapshot.fleet} --version {g.version}` "
            f"or remove it with `molt retire {snapshot.fleet} {g.id}`"
        )
    return None


#: how long a version label and a note may be, in characters: more is a paste gone wrong
#: (and would fill every screen and journal line that shows it)
MAX_CHARACTERS = {"version": 128, "note": 1000}


def check_plain_text(field: str, text: str) -> None:
    """Text an operator types that other operators will see (a note, a version) must be
    plain text on one line, and not too long: no escape sequence may reach their
    terminals or fake a line of history, nothing invisible may make ``v8\u200b`` pass
    for ``v8`` (:func:`backends.core.text.hidden_character`). Markup-like text (``[/]``,
    ``[bold]``) and emoji are fine: they are shown literally.

    Raises:
        BadInput: naming ``field`` and its length or first hidden character (exit 2).
    """
    limit = MAX_CHARACTERS.get(field)
    if limit is not None and len(text) > limit:
        raise BadInput(f"the {field} is {len(text)} characters long; keep it to {limit} at most")
    found = hidden_character(text)
    if found is not None:
        position, char, kind = found
        raise BadInput(
            f"the {field} holds {'a' if kind == 'control' else 'an'} {kind} character "
            f"(U+{ord(char):04X} at character {position}); write it as one line of plain text"
        )


def check_launch(version: str, count: int | None, note: str = "") -> None:
    """A launch needs a version label and a sane instance count; the version and the
    note must be plain text (:func:`check_plain_text`).

    Raises:
        BadInput: a control character in the version or the note (exit code 2).
        Refused: no version, a version with spaces, or a count out of range.
    """
    check_plain_text("version", version)
    check_plain_text("note", note)
    if not version.strip() or any(c.isspace() for c in version):
        raise Refused("a generation needs a version label without spaces, e.g. --version v2")
    if count is not None and not 1 <= count <= MAX_INSTANCES_PER_LAUNCH:
        raise Refused(f"count must be 1–{MAX_INSTANCES_PER_LAUNCH}, not {count}")
