"""Text that came from outside (log lines, notes, remote errors) made safe to print:
nothing in it may reach a terminal as a control sequence."""

from __future__ import annotations

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0, 9), *range(10, 32), 127, *range(0x80, 0xA0))}
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0x202A, 0x202F)})  # bidi embeddings
_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0x2066, 0x206A)})  # bidi isolates


def printable(text: str) -> str:
    """``text`` with every control character (but tab) written as an escape."""
    return text.translate(_ESCAPES)
