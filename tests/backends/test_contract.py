"""The backend contract, once, for every driver (see conftest.py and harness_*.py)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from backends.core.errors import NotFound, Refused
from backends.core.events import HealthChanged, SnapshotTaken, WeightsChanged
from backends.core.journal import JournalRecord, Outcome
from backends.core.model import FleetSnapshot, GenerationState, Health
from backends.engine.operations import Operations
from backends.engine.session import FleetSession
from tests.support.waiting import until

pytestmark = pytest.mark.slow
SETTLE = 90.0


async def snapshot_where(harness, check) -> FleetSnapshot:
    """The first snapshot of which ``check(snapshot)`` holds."""
    return await until(harness.backend.snapshot, check, timeout=SETTLE, what=check.__name__)


async def settled(harness, generation: str):
    session = FleetSession.around(harness.backend)
    return await session.wait_settled(generation, timeout=SETTLE)


async def collect(backend, events: list):
    async for event in backend.watch():
        events.append(event)


@contextlib.asynccontextmanager
async def watching(harness, backend=None):
    """The events a watch of ``backend`` (the harness's by default) yields, once it hears
    every change."""
    backend = backend or harness.backend
    events: list = []
    watcher = asyncio.create_task(collect(backend, events))
    try:
        await until(lambda: harness.listening(backend, events), what="the watch to listen")
        yield events
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def eventually(events: list, check, count: int = 1, timeout: float = 10.0) -> list:
    """The events that pass ``check``, once there are ``count`` of them (the watcher may
    trail the snapshot by a moment)."""
    return await until(
        lambda: [e for e in events if check(e)],
        lambda seen: len(seen) >= count,
        timeout=timeout,
        what=f"{count} event(s) passing {check.__name__}",
    )


async def test_empty_fleet_reads_cleanly(harness):
    snapshot = await harness.backend.snapshot()
    assert snapshot.fleet == harness.fleet
    assert snapshot.generations == ()
    assert snapshot.backend == harness.backend.kind


async def test_launch_starts_at_weight_zero_and_streams_typed_health(harness):
    async with watching(harness) as events:
        generation = await harness.backend.launch(harness.spec())
        assert (generation.id, generation.weight) == ("g1", 0)
        settled_g1 = await settled(harness, "g1")
        assert settled_g1.state is GenerationState.HEALTHY
        assert [i.health for i in settled_g1.instances] == [Health.HEALTHY] * harness.count

        def healthy(e) -> bool:
            return isinstance(e, HealthChanged) and e.after is Health.HEALTHY

        await eventually(events, healthy, count=harness.count)
    seen = [e for e in events if healthy(e)]
    assert {e.instance_id for e in seen} == {i.id for i in settled_g1.instances}
    assert all(e.generation_id == "g1" and e.before is not Health.HEALTHY for e in seen)


async def test_weights_are_applied_read_back_and_streamed_as_fields(harness):
    for _ in range(2):
        await harness.backend.launch(harness.spec())
    for generation in ("g1", "g2"):
        await settled(harness, generation)
    await harness.backend.set_weights({"g1": 100, "g2": 0})
    async with watching(harness) as events:
        await harness.backend.set_weights({"g1": 30, "g2": 70})

        def shifted(e) -> bool:
            return isinstance(e, WeightsChanged) and e.after == {"g1": 30, "g2": 70}

        shifts = await eventually(events, shifted)
    assert shifts[0].before == {"g1": 100, "g2": 0}
    snapshot = await harness.backend.snapshot()
    assert snapshot.weights == {"g1": 30, "g2": 70}
    assert {g.state for g in snapshot.generations} == {GenerationState.LIVE}
    if harness.backend.hands_over_snapshots:
        assert any(isinstance(e, SnapshotTaken) for e in events)


async def test_a_partial_weight_map_is_refused_and_changes_nothing(harness):
    for _ in range(2):
        await harness.backend.launch(harness.spec(count=1))
    for generation in ("g1", "g2"):
        await settled(harness, generation)
    with pytest.raises(Refused, match="missing g2"):
        await harness.backend.set_weights({"g1": 100})
    with pytest.raises(Refused, match="unknown g9"):
        await harness.backend.set_weights({"g1": 100, "g2": 0, "g9": 0})
    assert (await harness.backend.snapshot()).weights == {"g1": 0, "g2": 0}


async def test_bad_version_fails_and_guards_refuse_it_traffic(harness):
    ops = Operations(harness.backend)
    await ops.launch(harness.spec(harness.bad_version))

    def failed(s) -> bool:
        return s.generations[0].state is GenerationState.FAILED

    snapshot = await snapshot_where(harness, failed)
    assert snapshot.generations[0].healthy_count() == 0
    with pytest.raises(Refused, match="no healthy instance"):
        await ops.promote("g1")
    assert (await harness.backend.snapshot()).weights == {"g1": 0}


async def test_retire_removes_the_generation_and_ids_are_never_reused(harness):
    await harness.backend.launch(harness.spec(count=1))
    await settled(harness, "g1")
    await harness.backend.retire("g1")
    assert (await harness.backend.snapshot()).generations == ()
    again = await harness.backend.launch(harness.spec(count=1))
    assert again.id == "g2"


async def test_retiring_a_draining_generation_resumes_the_cut_short_retire(harness):
    await harness.backend.launch(harness.spec(count=1))
    await settled(harness, "g1")
    await harness.leave_draining("g1")
    shown = (await harness.backend.snapshot()).generation("g1")
    assert shown is None or shown.state is GenerationState.DRAINING
    if shown is not None:
        await Operations(harness.backend).retire("g1")
    assert (await harness.backend.snapshot()).generations == ()


async def test_unknown_generation_is_not_found(harness):
    with pytest.raises(NotFound):
        await harness.backend.retire("g42")
    with pytest.raises(NotFound):
        await harness.backend.verify("g42")


async def test_a_fresh_generation_has_no_drift(harness):
    await harness.backend.launch(harness.spec(count=1))
    await settled(harness, "g1")
    report = await harness.backend.verify("g1")
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
    await ops.launch(harness.spec(count=1))
    await settled(harness, "g1")
    await ops.promote("g1")
    with pytest.raises(Refused):
        await ops.retire("g1")
    records = await harness.backend.journal.records(harness.fleet)
    assert [(r.action, r.outcome) for r in records] == [
        ("launch", Outcome.OK),
        ("promote", Outcome.OK),
        ("retire", Outcome.REFUSED),
    ]
    assert records[0].args["generation"] == "g1"
    assert {r.operator for r in records} == {await harness.backend.operator()}
    assert "still carries 100%" in records[2].reason


async def test_read_only_reads_everything_and_changes_nothing(harness):
    ops = Operations(harness.backend)
    await ops.launch(harness.spec(count=1))
    await settled(harness, "g1")
    await ops.promote("g1")
    await ops.launch(harness.spec(count=1))
    await settled(harness, "g2")
    before = await harness.fingerprint()
    viewer = harness.reopen(True)
    assert viewer.read_only
    assert (await viewer.snapshot()).weights == {"g1": 100, "g2": 0}
    assert (await viewer.verify("g2")).clean
    assert await viewer.differences(await viewer.snapshot()) == ()
    assert [r.action for r in await viewer.journal.records(harness.fleet)][:2] == [
        "launch",
        "promote",
    ]
    await viewer.operator()
    async with watching(harness, viewer) as events:
        # a polled driver's watch reads over and over: let it read a second time
        if viewer.hands_over_snapshots:
            await eventually(events, lambda e: isinstance(e, SnapshotTaken), count=2)
    record = JournalRecord(fleet=harness.fleet, action="shift", operator="mallory")
    attempts = [
        lambda: viewer.launch(harness.spec(count=1)),
        lambda: viewer.set_weights({"g1": 0, "g2": 100}),
        lambda: viewer.retire("g2"),
        lambda: viewer.journal.write(record),
        lambda: Operations(viewer).promote("g2"),
        lambda: Operations(viewer).retire("g2"),
        lambda: Operations(viewer).launch(harness.spec(count=1)),
        lambda: viewer.apply(),
        lambda: Operations(viewer).apply(),
    ]
    for attempt in attempts:
        with pytest.raises(Refused, match="read-only"):
            await attempt()
    await viewer.close()
    assert await harness.fingerprint() == before


async def test_apply_with_nothing_different_does_and_journals_nothing(harness):
    ops = Operations(harness.backend)
    await ops.launch(harness.spec(count=1))
    await settled(harness, "g1")
    records = await harness.backend.journal.records(harness.fleet)
    assert await harness.backend.differences(await harness.backend.snapshot()) == ()
    assert await ops.apply() == ()
    assert await harness.backend.journal.records(harness.fleet) == records
