"""The one clock and time format of the model: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only clock the model uses)."""
    return datetime.now(UTC)


def iso(moment: datetime | None, *, precise: bool = False) -> str | None:
    """``2026-11-26T14:00:00Z``: the one time format of JSON output; ``precise`` keeps
    milliseconds (the journal orders actions that happen within one second)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    if precise:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
