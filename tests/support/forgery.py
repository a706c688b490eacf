"""What someone who can edit a journal's store could do with Molt's own code."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from backends.core import chain


def rechain(
    lines: list[str], change: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: data
) -> list[str]:
    """Every line changed by ``change`` and re-sealed with Molt's own hashing code: a
    chain that holds, which only an anchor kept elsewhere can expose."""
    out: list[str] = []
    for line in lines:
        data = json.loads(chain.unsealed(line))
        data.pop("prev")
        out.append(chain.seal(change(data), chain.hash_of(out[-1]) if out else chain.GENESIS))
    return out
