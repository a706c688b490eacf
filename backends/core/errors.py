"""The errors an operator may see. Drivers translate boto3, asyncssh and OS errors
into these (``raise ... from exc``); nothing else is allowed to reach the UI or CLI.

Each error carries a short ``title`` for the UI and a one-line ``message`` that names
the problem and, where there is one, what to do about it.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every error Molt shows to an operator."""

    title = "Backend error"
    exit_code = 1

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(BackendError):
    """The configuration (molt.toml or command line) is wrong: exit code 2."""

    title = "Configuration error"
    exit_code = 2


class NotFound(BackendError):
    """A fleet, generation or resource that does not exist."""

    title = "Not found"


class Refused(BackendError):
    """A guard (or read-only mode) refused a mutating operation; nothing changed."""

    title = "Refused"


class Unreachable(BackendError):
    """A host, agent or endpoint could not be reached in time."""

    title = "Unreachable"


class AuthError(BackendError):
    """Credentials, permissions or a host key were rejected."""

    title = "Not authorised"


class Throttled(BackendError):
    """The provider kept throttling after retries."""

    title = "Throttled"


class OperationFailed(BackendError):
    """The backend accepted an operation but could not complete it."""

    title = "Operation failed"


class BadInput(ConfigError):
    """Text an operator typed (a note, a version) that Molt will not store or show:
    exit code 2, like any other usage error."""

    title = "Bad input"


def shown(text: str) -> str:
    """Outside text (a config value, a command-line word) fit for a one-line message:
    control and other invisible characters written as escapes (``\\x1b``, ``\\u202e``),
    so none reaches a terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
