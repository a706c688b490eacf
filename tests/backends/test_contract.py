"""The backend contract, once, for every driver (see conftest.py and harness_*.py)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from backends.errors import NotFound, Refused
from backends.journal import JournalRecord, Outcome
from backends.model import EventKind, FleetSnapshot, GenerationState, Health
from backends.operations import Operations, wait_settled

pytestmark = pytest.mark.slow
SETTLE = 90.0


async def until(harness, check, timeout: float = SETTLE) -> FleetSnapshot:
    """Poll snapshots until ``check(snapshot)`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        snapshot = await harness.backend.snapshot(harness.fleet)
        if check(snapshot):
            return snapshot
        assert loop.time() < deadline, f"gave up waiting; last snapshot: {snapshot}"
        await asyncio.sleep(0.2)


async def test_empty_fleet_reads_cleanly(harness):
    snapshot = await harness.backend.snapshot(harness.fleet)
    assert snapshot.fleet == harness.fleet
    assert snapshot.generations == ()
    assert snapshot.backend == harness.backend.kind


async def test_launch_starts_at_weight_zero_and_streams_health(harness):
    events = []

    async def collect():
        async for event in harness.backend.watch(harness.fleet):
            events.append(event)

    watcher = asyncio.create_task(collect())
    await asyncio.sleep(0.5)
    generation = await harness.backend.launch(harness.fleet, harness.spec())
    assert generation.id == "g1"
    assert generation.weight == 0
    settled = await wait_settled(harness.backend, harness.fleet, "g1", timeout=SETTLE)
    assert settled.state is GenerationState.HEALTHY
    assert [i.health for i in settled.instances] == [Health.HEALTHY] * harness.count
    for _ in range(50):  # events may trail the snapshot by a moment
        if sum(e.kind is EventKind.HEALTH and "→ healthy" in e.message for e in events) >= 2:
            break
        await asyncio.sleep(0.1)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    healthy_events = [e for e in events if e.kind is EventKind.HEALTH and "→ healthy" in e.message]
    assert len(healthy_events) >= harness.count
    assert all(e.generation == "g1" for e in healthy_events)


async def test_weights_are_applied_and_read_back(harness):
    for _ in range(2):
        await harness.backend.launch(harness.fleet, harness.spec())
    for generation in ("g1", "g2"):
        await wait_settled(harness.backend, harness.fleet, generation, timeout=SETTLE)
    await harness.backend.set_weights(harness.fleet, {"g1": 100, "g2": 0})
    await harness.backend.set_weights(harness.fleet, {"g1": 30, "g2": 70})
    snapshot = await harness.backend.snapshot(harness.fleet)
    assert snapshot.weights == {"g1": 30, "g2": 70}
    assert {g.state for g in snapshot.generations} == {GenerationState.LIVE}


async def test_bad_version_fails_and_guards_refuse_it_traffic(harness):
    ops = Operations(harness.backend)
    await ops.launch(harness.fleet, harness.spec(harness.bad_version))
    snapshot = await until(harness, lambda s: s.generations[0].state is GenerationState.FAILED)
    assert snapshot.generations[0].healthy_count() == 0
    with pytest.raises(Refused, match="no healthy instance"):
        await ops.promote(harness.fleet, "g1")
    assert (await harness.backend.snapshot(harness.fleet)).weights == {"g1": 0}


async def test_retire_removes_the_generation_and_ids_are_never_reused(harness):
    await harness.backend.launch(harness.fleet, harness.spec(count=1))
    await wait_settled(harness.backend, harness.fleet, "g1", timeout=SETTLE)
    await harness.backend.retire(harness.fleet, "g1")
    assert (await harness.backend.snapshot(harness.fleet)).generations == ()
    again = await harness.backend.launch(harness.fleet, harness.spec(count=1))
    assert again.id == "g2"


async def test_unknown_generation_is_not_found(harness):
    with pytest.raises(NotFound):
        await harness.backend.retire(harness.fleet, "g42")
    with pytest.raises(NotFound):
        await harness.backend.verify(harness.fleet, "g42")


async def test_a_fresh_generation_has_no_drift(harness):
    await harness.backend.launch(harness.fleet, harness.spec(count=1))
    await wait_settled(harness.backend, harness.fleet, "g1", timeout=SETTLE)
    report = await harness.backend.verify(harness.fleet, "g1")
    assert report.clean, report


async def test_journal_folds_start_and_outcome_into_one_record(harness):
    record = JournalRecord(
        fleet=harness.fleet, action="shift", operator="alice", args={"weights": {"g1": 100}}
    )
    await harness.backend.journal.write(record)
    await harness.backend.journal.write(record.finished(Outcome.OK))
    records = await harness.backend.journal.records(harness.fleet)
    assert [(r.id, r.operator, r.outcome) for r in records] == [(record.id, "alice", Outcome.OK)]


async def test_operations_journal_every_step_with_the_operator(harness):
    ops = Operations(harness.backend)
    await ops.launch(harness.fleet, harness.spec(count=1))
    await wait_settled(harness.backend, harness.fleet, "g1", timeout=SETTLE)
    await ops.promote(harness.fleet, "g1")
    with pytest.raises(Refused):
        await ops.retire(harness.fleet, "g1")
    records = await harness.backend.journal.records(harness.fleet)
    assert [(r.action, r.outcome) for r in records] == [
        ("launch", Outcome.OK),
        ("promote", Outcome.OK),
        ("retire", Outcome.REFUSED),
    ]
    assert records[0].args["generation"] == "g1"
    assert {r.operator for r in records} == {await harness.backend.operator()}
    assert "still carries 100%" in records[2].reason
