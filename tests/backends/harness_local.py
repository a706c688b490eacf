"""The local backend's rig: a fresh state dir, a real agent, the demo app's processes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from backends.local.client import LocalBackend
from tests.backends.harness import Harness
from tests.support.local import local_fleet, state_dir_env


@contextlib.asynccontextmanager
async def make_harness() -> AsyncIterator[Harness]:
    with state_dir_env() as state_dir:
        fleet = local_fleet("contract", count=2, drain_timeout=2.0)
        backend = LocalBackend(fleet, state_dir)
        try:
            yield Harness(backend=backend, fleet="contract")
        finally:
            await backend.close()
