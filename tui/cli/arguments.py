"""What each of ``molt``'s arguments accepts: argparse types and actions that turn a bad
value into a one-line usage error (exit 2) before anything is opened."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from backends.core.errors import BackendError, shown


def plain_text(field: str) -> Callable[[str], str]:
    """An argument type refusing control characters (``--note``, ``--version``) before
    anything is opened: a usage error, exit 2."""

    def check(text: str) -> str:
        from backends.core import guards

        try:
            guards.check_plain_text(field, text)
        except BackendError as error:
            raise argparse.ArgumentTypeError(error.message) from None
        return text

    return check


def seconds(text: str) -> float:
    """An argument type for durations: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argument type for counts: a whole number ``low``–``high``; anything else
    (``--lines -5``, ``--count 0``) is a usage error, exit 2."""

    def check(text: str) -> int:
        value = int(text) if WHOLE.fullmatch(text.strip()) else None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number {low}–{high}, not {shown(text[:40])}"
            )
        return value

    return check


WHOLE = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII digits: int() would take '٣' and '1_000'


def instance_count(text: str) -> int:
    """``launch --count``: 1 to the guards' limit per launch."""
    from backends.core import guards

    return whole(1, guards.MAX_INSTANCES_PER_LAUNCH)(text)


class NoJson(argparse.Action):
    """``--json`` on a verb that cannot print JSON: refused as a usage error (exit 2),
    never silently ignored by a script that expects JSON."""

    def __init__(self, option_strings: Sequence[str], dest: str, why: str = "") -> None:
        super().__init__(option_strings, dest, nargs=0, help=argparse.SUPPRESS)
        self.why = why

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        verb = parser.prog.split()[-1]
        parser.error(f"{verb} cannot print JSON: {self.why}")
