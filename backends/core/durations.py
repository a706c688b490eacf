"""Durations as operators write them: ``30 days``, ``2 weeks``, ``12h``, ``90m``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^(\d{1,6})\s*([a-z]+)$")
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


def parse_duration(text: str) -> timedelta:
    """``ValueError`` (saying how to write one) for anything else."""
    match = _DURATION.match(text.strip().lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"a duration looks like 30 days, 12h or 90m, not {text!r}")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
