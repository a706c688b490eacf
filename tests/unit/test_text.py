"""What an operator types and others will see: invisible and bidi characters are refused
like control characters, emoji are not; versions and notes have a length cap."""

from __future__ import annotations

import pytest

from backends.core import guards
from backends.core.errors import BadInput
from backends.core.text import hidden_character


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("v8\u200b", (3, "\u200b", "invisible")),  # zero-width space: looks like v8
        ("\ufeffv8", (1, "\ufeff", "invisible")),  # a BOM pasted from a file
        ("v\u20608", (2, "\u2060", "invisible")),  # word joiner
        ("v8\u00ad", (3, "\u00ad", "invisible")),  # soft hyphen
        ("v8\u200d", (3, "\u200d", "invisible")),  # a joiner joining nothing
        ("v8\ufe0f", (3, "\ufe0f", "invisible")),  # a variation selector on a digit
        ("v\u3164", (2, "\u3164", "invisible")),  # Hangul filler: draws as a blank
        ("v8\U000e0041", (3, "\U000e0041", "invisible")),  # a tag character
        ("v\ud8008", (2, "\ud800", "invisible")),  # an unpaired surrogate from bad UTF-8
        ("abc\u202edcba", (4, "\u202e", "control")),  # bidi override (Trojan Source)
        ("a\u2067b", (2, "\u2067", "control")),  # bidi isolate
        ("a\u061cb", (2, "\u061c", "control")),  # Arabic letter mark
        ("a\x1b[2Jb", (2, "\x1b", "control")),
    ],
)
def test_hidden_characters_are_found_with_their_position(text, found):
    assert hidden_character(text) == found


@pytest.mark.parametrize("text", ["v8", "fix 🐍 👩‍💻 ✔︎ 1️⃣ 🏳️‍🌈 👍🏽 é ñ 日本", "[bold]x[/]", "ق٣"])
def test_visible_text_and_emoji_sequences_pass(text):
    assert hidden_character(text) is None


@pytest.mark.parametrize(
    ("version", "note", "message"),
    [
        ("v8\u200b", "", "the version holds an invisible character (U+200B at character 3)"),
        ("v8", "ok\ufeff", "the note holds an invisible character (U+FEFF at character 3)"),
        ("v" * 129, "", "the version is 129 characters long; keep it to 128 at most"),
        ("v8", "n" * 1001, "the note is 1001 characters long; keep it to 1000 at most"),
        ("v8", "n" * 120_000, "the note is 120000 characters long"),
    ],
)
def test_launch_refuses_invisible_characters_and_long_labels_with_exit_2(version, note, message):
    with pytest.raises(BadInput) as caught:
        guards.check_launch(version, 1, note)
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(message)


def test_a_version_of_128_and_a_note_of_1000_characters_are_fine():
    guards.check_launch("v" * 128, 1, "n" * 1000)
