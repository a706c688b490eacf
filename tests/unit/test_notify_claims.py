"""Who tells what: of several Molts seeing one happening, one claims it (the backend's
own locks, never the fleet's); the first look is old news, and so is a happening seen too
late; a look-only session never tells anything."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from backends.config.notify_settings import NotifySettings, Webhook
from backends.core.journal import JournalRecord, Outcome
from backends.core.locking import FLEET_LOCK, ROLLOUT_LOCK, Lease
from backends.core.notices import Notice
from backends.engine.notify import FRESH, ClaimsHeld, Notifier
from backends.engine.problems import Problems
from backends.engine.session import FleetSession
from backends.engine.updates import AttentionChanged
from tests.support.synthetic import SyntheticBackend

SETTINGS = NotifySettings(webhook=(Webhook(url="http://127.0.0.1:9/refused"),))


def hold_every_slot(backend: SyntheticBackend) -> None:
    """Every notify:N lock held by another Molt, for other events."""
    for i in range(8):
        backend.leases[f"notify:{i}"] = Lease.new("bob", "notify", f"other-{i}", lock=f"notify:{i}")


def notifier(backend: SyntheticBackend) -> Notifier:
    return Notifier(SETTINGS, backend, "web", Problems(lambda _: None), clock=backend.clock)


def aborted(backend: SyntheticBackend) -> JournalRecord:
    args = {"event": "abort", "generation": "g2", "judge": True}
    return JournalRecord(
        fleet="web",
        action="rollout",
        operator="alice",
        args=args,
        outcome=Outcome.OK,
        at=backend.clock(),
    )


async def test_of_two_molts_one_claims_a_notice_and_the_fleet_lock_stays_free():
    backend = SyntheticBackend()
    notice = Notice("taint", "web", "taint:g1", "fleet web: g1 is tainted")
    mine = await notifier(backend).claim(notice)
    theirs = await notifier(backend.reopened(read_only=False)).claim(notice)
    assert mine is not None and mine.lock.startswith("notify:") and mine.record == "taint:g1"
    assert theirs is None
    assert backend.leases.keys().isdisjoint({FLEET_LOCK, ROLLOUT_LOCK})


async def test_a_claim_slot_held_for_another_notice_is_passed_over():
    backend = SyntheticBackend()
    hold_every_slot(backend)
    del backend.leases["notify:5"]  # the one slot free
    claimed = await notifier(backend).claim(Notice("taint", "web", "taint:g2", ""))
    assert claimed is not None and claimed.lock == "notify:5"


async def test_the_first_look_is_old_news_then_each_new_record_is_told_once():
    backend = SyntheticBackend()
    before = aborted(backend)
    backend.clock.advance(5)
    telling = notifier(backend)  # this Molt begins watching
    telling.start()
    try:
        telling.looked(AttentionChanged(None), [before])  # the first look: old news
        backend.clock.advance(5)
        after = aborted(backend)
        telling.looked(AttentionChanged(None), [before, after])
        telling.looked(AttentionChanged(None), [before, after])  # seen again: told once
        await telling.settle(0.3)
        assert telling.sent == 1
        assert [lease.record for lease in backend.leases.values()] == [
            f"rollout-aborted:{after.id}"
        ]
    finally:
        await telling.close()


async def test_a_happening_seen_too_late_is_not_told():
    backend = SyntheticBackend()
    telling = notifier(backend)
    telling.start()
    try:
        telling.looked(AttentionChanged(None), [])
        late = aborted(backend)
        backend.clock.advance(FRESH + 1)  # this Molt's reads failed for a while
        telling.looked(AttentionChanged(None), [late])
        await telling.settle(0.3)
        assert telling.sent == 0
    finally:
        await telling.close()


async def test_only_a_started_session_with_write_access_tells():
    backend = SyntheticBackend()
    backend.config = replace(backend.config, notify=SETTINGS)
    async with FleetSession.around(backend.reopened(read_only=True)) as looking:
        looking.start()
        assert looking.notifier is None  # a look never writes: a claim is a write
    async with FleetSession.around(backend) as session:
        assert session.notifier is None  # not started: the CLI's one-shot reads
        session.start()
        assert session.notifier is not None


async def test_every_slot_held_for_other_events_is_said_not_taken():
    backend = SyntheticBackend()
    hold_every_slot(backend)
    with pytest.raises(ClaimsHeld):
        await notifier(backend).claim(Notice("taint", "web", "taint:g2", ""))
    assert all(lease.holder == "bob" for lease in backend.leases.values())


async def test_what_happened_after_it_began_watching_is_news_even_in_its_first_look():
    backend = SyntheticBackend()
    telling = notifier(backend)
    telling.start()
    try:
        backend.clock.advance(1)
        meanwhile = aborted(backend)  # journaled while the first look was under way
        telling.looked(AttentionChanged(None), [meanwhile])
        await telling.settle(0.3)
        assert telling.sent == 1
    finally:
        await telling.close()


async def test_an_action_cut_short_and_a_lock_held_too_long_are_told_once_seen():
    backend = SyntheticBackend()
    telling = notifier(backend)  # lock_held_minutes: 30 by default
    telling.start()
    try:
        old = JournalRecord(fleet="web", action="retire", operator="bob", args={"generation": "g1"})
        lock = replace(Lease.new("carol", "launch v9", "rec-launch"), since=backend.clock.now)
        telling.looked(AttentionChanged(None, (old,), lock), [])  # already cut: old news
        cut = JournalRecord(fleet="web", action="launch", operator="bob", args={})
        telling.looked(AttentionChanged(None, (old, cut), lock), [])
        backend.clock.advance(31 * 60)  # carol's launch has held the lock for 31 minutes
        telling.looked(AttentionChanged(None, (old, cut), lock), [])
        await telling.settle(0.3)
        assert sorted(lease.record for lease in backend.leases.values()) == [
            f"interrupted:{cut.id}",
            "lock-held:rec-launch",
        ]
    finally:
        await telling.close()


def test_a_failing_webhook_is_a_problem_but_not_a_fleet_that_cannot_be_read():
    problems = Problems(lambda _: None)
    problems.set("notify 0", "notify: webhook https://hooks.slack.com failed: HTTP 500 (3 tries)")
    assert problems.text.startswith("notify: webhook") and problems.reading == ""
    problems.set("read", "Unreachable: no answer")
    assert problems.reading == "Unreachable: no answer"  # what the estate shows as unreachable


async def test_a_claim_outlives_the_molt_that_won_it() -> None:
    """``molt rollout`` tells its news and ends; a watcher that sees the same news a moment
    later finds the claim still held and does not tell it again."""
    backend = SyntheticBackend()
    first = notifier(backend)
    first.start()
    first.looked(AttentionChanged(None), [])
    backend.clock.advance(1)
    record = aborted(backend)
    first.looked(AttentionChanged(None), [record])
    await first.settle(0.5)
    await first.close()
    assert first.sent == 1
    late = notifier(backend.reopened(read_only=False))
    late.start()
    late.looked_once = True  # it was watching before the news
    late.looked(AttentionChanged(None), [record])
    await late.settle(0.5)
    await late.close()
    assert late.sent == 0


async def test_two_molts_reading_the_slots_at_different_moments_claim_a_notice_once() -> None:
    """A reads the slots while the notice's first slot is held for another event; that one
    ends and B claims the notice there before A acts: A must not claim it on the next slot."""
    backend = SyntheticBackend()
    notice = Notice("taint", "web", "taint:g9", "")
    slot = f"notify:{int(hashlib.sha256(notice.key.encode()).hexdigest()[:8], 16) % 8}"
    backend.leases[slot] = Lease.new("bob", "notify", "other", lock=slot)
    seen_by_a = backend.reopened(read_only=False)
    real = seen_by_a.lock_holders
    looks = 0

    async def stale_first(names: list[str]) -> dict[str, Lease | None]:
        nonlocal looks
        looks += 1
        view = await real(names)
        if looks == 1:  # between A's read and A's acquire: "other" ends, B claims
            del backend.leases[slot]
            theirs = await notifier(backend.reopened(read_only=False)).claim(notice)
            assert theirs is not None and theirs.lock == slot
        return view

    seen_by_a.lock_holders = stale_first  # type: ignore[method-assign]
    assert await notifier(seen_by_a).claim(notice) is None
    held = [lease.record for lease in backend.leases.values() if lease is not None]
    assert held.count(notice.key) == 1


async def test_news_seen_after_a_blind_spot_longer_than_fresh_is_old_news() -> None:
    """A Molt whose reads failed for longer than FRESH sees an interrupted action (a
    notice with no time) that another Molt told meanwhile: it does not tell it again."""
    backend = SyntheticBackend()
    watcher = notifier(backend.reopened(read_only=False))
    watcher.start()
    watcher.looked(AttentionChanged(None), [])
    cut = JournalRecord(fleet="web", action="launch", operator="bob", args={})
    backend.clock.advance(FRESH + 300)  # the watcher saw nothing; the teller's hold ended
    watcher.looked(AttentionChanged(None, (cut,), None), [])
    await watcher.settle(0.5)
    await watcher.close()
    assert watcher.sent == 0
