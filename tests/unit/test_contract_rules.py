"""The small shared rules of the driver contract: complete weight maps, deadlines, and
a read-only backend that refuses writes before its driver sees them."""

from __future__ import annotations

import asyncio
import time

import pytest

from backends.contract import check_complete
from backends.core.deadline import Deadline
from backends.core.errors import Refused
from backends.core.journal import JournalRecord
from backends.core.model import GenerationSpec
from tests.support.synthetic import SyntheticBackend


def test_a_complete_map_names_every_generation_once():
    assert check_complete({"g2": 0, "g1": 100}, ["g1", "g2"]) == {"g1": 100, "g2": 0}
    with pytest.raises(Refused, match="missing g2; unknown g7"):
        check_complete({"g1": 100, "g7": 0}, ["g1", "g2"])
    with pytest.raises(Refused, match="sum to 100, not 90"):
        check_complete({"g1": 90, "g2": 0}, ["g1", "g2"])
    with pytest.raises(Refused, match="whole number"):
        check_complete({"g1": True, "g2": 0}, ["g1", "g2"])


async def test_a_deadline_looks_at_once_then_every_interval_until_it_passes():
    started = time.monotonic()
    looks = [time.monotonic() - started async for _ in Deadline(0.25).every(0.1)]
    assert looks[0] < 0.05 and len(looks) >= 3
    assert looks[-1] >= 0.25


async def test_a_read_only_backend_refuses_every_write_before_the_driver():
    backend = SyntheticBackend(read_only=True)
    backend.add_generation("v1", 2, weight=100)
    for write in (
        backend.launch(GenerationSpec(version="v2")),
        backend.set_weights({"g1": 100}),
        backend.retire("g1"),
        backend.journal.write(JournalRecord(fleet="web", action="shift", operator="x")),
    ):
        with pytest.raises(Refused, match="read-only mode"):
            await write
    assert backend.memory.writes == [] and len(backend.generations) == 1
    await asyncio.sleep(0)
