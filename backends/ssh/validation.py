"""What Molt reads back from the LB host is checked like what an operator types.

``state.json`` lives on a host any process of the deploy user can write; the ids it
holds become HAProxy runtime commands and paths that are stopped and removed with
``rm -rf``. So each id must be one Molt could have made — matched whole
(``fullmatch``: a ``$`` anchor lets a trailing newline through) — and a state file
holding anything else is refused, not acted on.
"""

from __future__ import annotations

import re

from backends.core.errors import ConfigError
from backends.ssh.settings import HostAddress

#: ``g1`` … (what :func:`backends.ssh.launching._record` hands out)
GENERATION = re.compile(r"g[1-9][0-9]{0,8}")
#: ``g1-10.0.0.11-1``, ``g2-web-1.example.com:2222-3``: generation, host label, number
#: (never ``/``, a space, a newline or ``;``: it names a file and an HAProxy server)
INSTANCE = re.compile(r"g[1-9][0-9]{0,8}-[A-Za-z0-9_.:%\[\]-]{1,300}-[1-9][0-9]{0,3}")
#: what may end an HAProxy runtime command line: a newline or ``;`` starts another
COMMAND_BREAKS = re.compile(r"[\x00-\x1f\x7f;]")


def generation_id(value: object) -> str:
    """``value`` if it is a generation id Molt makes.

    Raises:
        ValueError: naming what is wrong.
    """
    if not isinstance(value, str) or not GENERATION.fullmatch(value):
        raise ValueError(f"{_show(value)} is not a generation id")
    return value


def instance_id(value: object, generation: str) -> str:
    """``value`` if it is an instance id of ``generation``.

    Raises:
        ValueError: naming what is wrong.
    """
    if (
        not isinstance(value, str)
        or not INSTANCE.fullmatch(value)
        or not value.startswith(f"{generation}-")
    ):
        raise ValueError(f"{_show(value)} is not an instance id of {generation}")
    return value


def host(value: object) -> str:
    """``value`` if it names a host as ``hosts`` does (``user@address:port``)."""
    if not isinstance(value, str) or value != value.strip():
        raise ValueError(f"{_show(value)} is not a host")
    try:
        HostAddress.parse(value)
    except ConfigError as error:
        raise ValueError(error.message) from None
    return value


def address(value: object) -> str:
    """``value`` if it is a host name or address (what an instance listens on)."""
    wrong = ValueError(f"{_show(value)} is not an address")
    if not isinstance(value, str) or not value or "@" in value or "/" in value:
        raise wrong
    try:
        host(f"[{value}]" if ":" in value else value)
    except ValueError:
        raise wrong from None
    return value


def port(value: object) -> int:
    if type(value) is not int or not 0 <= value < 65536:  # 0: the instance never started
        raise ValueError(f"{_show(value)} is not a port")
    return value


def weight(value: object) -> int:
    if type(value) is not int or not 0 <= value <= 100:
        raise ValueError(f"{_show(value)} is not a weight (0–100)")
    return value


def command(line: str) -> str:
    """``line`` if it is one HAProxy runtime command (no newline, no ``;``, no control
    character: any of them would start a second command).

    Raises:
        ValueError: naming the command.
    """
    if COMMAND_BREAKS.search(line):
        raise ValueError(f"{_show(line)} is not one HAProxy command")
    return line


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
