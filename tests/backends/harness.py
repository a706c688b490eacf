"""What the backend contract suite needs from each driver's test rig.

Each driver has a module ``tests/backends/harness_<driver>.py`` with
``make_harness()``: an async context manager yielding a :class:`Harness` on a fresh,
empty fleet made of real parts (processes, sshd + HAProxy, moto's endpoints) — and the
synthetic backend the TUI tests stand on, so they stand on something the contract holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from backends.contract import Backend
from backends.core.events import Event, SnapshotTaken
from backends.core.model import GenerationSpec


def has_read(backend: Backend, events: list[Event]) -> bool:
    """A polled driver's watch hears every change once it has read once: from then on
    each read is compared with the one before."""
    return any(isinstance(e, SnapshotTaken) for e in events)


@dataclass
class Harness:
    """A fresh fleet, and ways to look at its world without going through the driver.

    Attributes:
        reopen: another backend on the same fleet (``read_only`` as asked).
        fingerprint: everything the world holds about the fleet, read around the
            driver (files, tables, tags, HAProxy's servers): equal before and after
            means nothing changed.
        leave_draining: put a generation in the state a retire leaves when Molt (or
            the local agent) dies half-way through it.
        listening: whether a ``watch()`` of ``backend`` that has yielded ``events`` so
            far hears every change from now on (the contract has no such signal; each
            rig knows where to look).
    """

    backend: Backend
    fleet: str
    reopen: Callable[[bool], Backend]
    fingerprint: Callable[[], Awaitable[object]]
    leave_draining: Callable[[str], Awaitable[None]]
    listening: Callable[[Backend, list[Event]], bool] = has_read
    good_version: str = "v1"  # its instances pass health checks
    bad_version: str = "v9-bad"  # its instances never pass them
    count: int = 2
    artifact: str | None = None  # e.g. the AMI id on aws

    def spec(self, version: str | None = None, count: int | None = None) -> GenerationSpec:
        return GenerationSpec(
            version=version or self.good_version,
            count=count or self.count,
            artifact=self.artifact,
            launched_by="contract-test",
        )
