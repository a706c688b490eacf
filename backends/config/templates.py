"""``start`` commands: templates with a few placeholders Molt fills in.

``{port}`` is where the instance listens, ``{python}`` the interpreter running Molt
(local) and ``{address}`` the host's address (ssh). A literal brace is written twice,
``{{`` and ``}}``, so a shell's ``${HOME}`` reads ``${{HOME}}`` in molt.toml. Templates
are checked when molt.toml is loaded (:func:`check`), so a launch never meets one it
cannot fill; :func:`render` fills one in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from backends.core.errors import ConfigError, shown

#: shown in messages: how to write a brace that is not a placeholder
LITERAL_BRACE = "write a literal brace as {{ or }}"
#: how much of a bad placeholder a message quotes
SHOWN = 40


class TemplateError(ValueError):
    """A template that cannot be read or filled; ``problem`` says where."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Piece:
    """Literal text (braces already unescaped), or a placeholder's name."""

    text: str
    placeholder: bool = False


def pieces(template: str) -> list[Piece]:
    """The template as literal text and placeholders, in order.

    Raises:
        TemplateError: a lone ``{`` or ``}``, or a ``{`` never closed.
    """
    found: list[Piece] = []
    literal: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        doubled = template[index + 1 : index + 2] == char
        if char in "{}" and doubled:
            literal.append(char)
            index += 2
        elif char == "}":
            raise TemplateError(f"has a lone '}}' at character {index + 1}")
        elif char == "{":
            end = template.find("}", index + 1)
            inner = template[index + 1 : end]
            if end < 0 or "{" in inner:
                raise TemplateError(f"has a lone '{{' at character {index + 1}")
            found += [Piece("".join(literal)), Piece(inner, placeholder=True)]
            literal = []
            index = end + 1
        else:
            literal.append(char)
            index += 1
    found.append(Piece("".join(literal)))
    return [piece for piece in found if piece.text or piece.placeholder]


def placeholders(template: str) -> list[str]:
    """The names of the template's placeholders, in order (``["python", "port"]``)."""
    return [piece.text for piece in pieces(template) if piece.placeholder]


def check(
    template: str,
    allowed: Collection[str],
    *,
    key: str = "start",
    required: Collection[str] = ("port",),
) -> None:
    """Refuse a template Molt could not fill: one line naming ``key`` and the problem.

    Raises:
        ConfigError: a lone brace, a placeholder not in ``allowed`` (or with a format
            spec, like ``{port:5}``), or a ``required`` one missing.
    """
    names = ", ".join(f"{{{name}}}" for name in allowed)
    try:
        used = placeholders(template)
    except TemplateError as error:
        raise ConfigError(
            f"{key} {error.problem}; {LITERAL_BRACE} (placeholders: {names})"
        ) from None
    for name in used:
        if name not in allowed:
            quoted = shown(name if len(name) <= SHOWN else name[:SHOWN] + "…")
            raise ConfigError(
                f"{key} has an unknown placeholder {{{quoted}}}: Molt fills in only {names}; "
                f"{LITERAL_BRACE} (a shell's ${{HOME}} is written ${{{{HOME}}}})"
            )
    for name in required:
        if name not in used:
            raise ConfigError(f"{key} must contain {{{name}}}, where the instance listens")


def render(template: str, **values: object) -> str:
    """The template with each placeholder replaced by its value and ``{{ }}`` by braces.

    ``render("sh -c 'echo $${{HOME}}; app {port}'", port=5)`` is
    ``"sh -c 'echo $${HOME}; app 5'"``.

    Raises:
        TemplateError: the template cannot be read, or names a placeholder not given.
    """
    filled = []
    for piece in pieces(template):
        if not piece.placeholder:
            filled.append(piece.text)
        elif piece.text in values:
            filled.append(str(values[piece.text]))
        else:
            raise TemplateError(f"has a placeholder {{{shown(piece.text[:SHOWN])}}} with no value")
    return "".join(filled)
