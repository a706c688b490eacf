"""A fleet session owns its operations: they outlive whoever asked for them, and
closing the session either waits for them or journals them ``interrupted``."""

from __future__ import annotations

import asyncio

from backends.core.journal import Outcome
from backends.engine.session import FleetSession
from backends.engine.updates import OperationsChanged, SnapshotUpdated
from tests.support.synthetic import SyntheticBackend


def retiring_fleet(retire_for: float) -> SyntheticBackend:
    backend = SyntheticBackend(retire_for=retire_for)
    backend.add_generation("v1", 2)
    backend.add_generation("v2", 2, weight=100)
    return backend


def outcomes(backend: SyntheticBackend) -> list[tuple[str, Outcome]]:
    return [(r.action, r.outcome) for r in backend.memory.since_seeded()]


async def test_an_operation_outlives_the_listener_that_asked_for_it():
    backend = retiring_fleet(0.3)
    session = FleetSession.around(backend)
    seen: list = []
    stop = session.listen(seen.append)
    operation = session.retire("g1")
    stop()  # the screen that asked went away
    await session.finish_operations()
    assert operation.done is not None and operation.done.text == "g1 retired"
    assert outcomes(backend) == [("retire", Outcome.OK)]
    assert [type(u) for u in seen] == [OperationsChanged]
    await session.close()


async def test_closing_with_an_operation_in_flight_journals_it_interrupted():
    backend = retiring_fleet(30.0)
    session = FleetSession.around(backend)
    operation = session.retire("g1")
    await asyncio.sleep(0.1)  # draining now
    await session.close(interrupt=True)
    assert operation.interrupted
    (record,) = backend.memory.since_seeded()
    assert record.outcome is Outcome.INTERRUPTED and "run the same command again" in record.reason
    assert backend.closed


async def test_closing_without_interrupting_waits_for_the_operation():
    backend = retiring_fleet(0.2)
    session = FleetSession.around(backend)
    session.retire("g1")
    await session.close(interrupt=False)
    assert outcomes(backend) == [("retire", Outcome.OK)]


async def test_a_started_session_reads_after_events_and_reports_them():
    backend = retiring_fleet(0.0)
    session = FleetSession.around(backend)
    snapshots: list = []
    session.listen(lambda u: snapshots.append(u) if isinstance(u, SnapshotUpdated) else None)
    session.start()
    await asyncio.sleep(0.1)
    backend.add_generation("v3", 1)
    backend.set_health("g3-1", backend.generations["g3"].instances[0].health)
    for _ in range(50):
        if snapshots and snapshots[-1].snapshot.generation("g3") is not None:
            break
        await asyncio.sleep(0.05)
    assert snapshots[-1].snapshot.generation("g3") is not None
    await session.close()
