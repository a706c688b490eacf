"""Run the one contract suite against every driver that has a harness."""

from __future__ import annotations

import importlib

import pytest

DRIVERS = ["local", "aws", "ssh", "synthetic"]  # synthetic: the TUI tests' stand-in


def _available() -> list[str]:
    found = []
    for name in DRIVERS:
        try:
            importlib.import_module(f"tests.backends.harness_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"tests.backends.harness_{name}":
                raise
            continue
        found.append(name)
    return found


@pytest.fixture(params=_available())
async def harness(request):
    module = importlib.import_module(f"tests.backends.harness_{request.param}")
    async with module.make_harness() as rig:
        yield rig
