"""Text that came from outside (log lines, notes, remote errors) made safe to print:
nothing in it may reach a terminal as a control sequence. And text an operator types
(versions, notes) checked for what would hide or disguise itself once shown."""

from __future__ import annotations

import unicodedata

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0, 9), *range(10, 32), 127, *range(0x80, 0xA0))}
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})
_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0x202A, 0x202F)})  # bidi embeddings
_ESCAPES.update({c: f"\\u{c:04x}" for c in range(0x2066, 0x206A)})  # bidi isolates

#: characters that can move a terminal's cursor, recolour it, end a line or reorder
#: what follows (Trojan Source): C0, DEL, C1, line/paragraph separators, bidi controls
CONTROLS = frozenset(
    [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), "\u2028", "\u2029", "\u061c"]
    + ["\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
)

#: characters that draw nothing (Unicode's default-ignorable code points that are not
#: format characters already): ``v8\u200b`` looks like ``v8`` and is not
_FILLERS = frozenset(
    ["\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u3164", "\uffa0"]
    + [*map(chr, range(0x180B, 0x1810)), *map(chr, range(0xFE00, 0xFE10))]
    + [*map(chr, range(0xE0100, 0xE01F0))]
)
#: joiners emoji are built with (👩‍💻, ✔︎): allowed between visible symbols only
_EMOJI_JOINERS = frozenset(["\u200d", "\ufe0e", "\ufe0f"])


def printable(text: str) -> str:
    """``text`` with every control character (but tab) written as an escape."""
    return text.translate(_ESCAPES)


def hidden_character(text: str) -> tuple[int, str, str] | None:
    """The first character of ``text`` that is not plain visible text on one line:
    ``(position from 1, the character, "control" or "invisible")``, or None.

    Controls are :data:`CONTROLS`; invisible are format characters (zero-width space,
    BOM, word joiner, tags…), fillers and variation selectors, unpaired surrogates and
    noncharacters — except the joiners of an emoji sequence, between two visible
    non-ASCII characters."""
    for index, char in enumerate(text):
        if char in CONTROLS:
            return index + 1, char, "control"
        if _invisible(text, index):
            return index + 1, char, "invisible"
    return None


def _invisible(text: str, index: int) -> bool:
    char = text[index]
    if char in _EMOJI_JOINERS:
        before = text[index - 1] if index else ""
        after = text[index + 1] if index + 1 < len(text) else ""
        visible_before = before == "\ufe0f" or (before > "\x7f" and not _plain_invisible(before))
        visible_after = after > "\x7f" and not _plain_invisible(after)
        if char == "\u200d":
            return not (visible_before and visible_after)
        return not (visible_before or after == "\u20e3")  # ✔︎, 1️⃣
    return _plain_invisible(char)


def _plain_invisible(char: str) -> bool:
    if char in _FILLERS or char in _EMOJI_JOINERS:
        return True
    category = unicodedata.category(char)
    code = ord(char)
    noncharacter = 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
    return category in ("Cf", "Cs", "Zl", "Zp") or noncharacter
