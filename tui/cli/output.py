"""What the headless commands print: stable JSON for pipelines, progress for people."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def say(text: str) -> None:
    """Progress for a person at a terminal. Never for pipelines: their stdout carries
    the result and their stderr only the one-line reason of a failure."""
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)
