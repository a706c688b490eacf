"""A notify claim on an AWS fleet: a tag of its own on the listener (moto over HTTP) —
of two Molts, one claims an event; given back, the tag is gone."""

from __future__ import annotations

import asyncio

import pytest

from backends.aws.driver import AwsBackend
from backends.config.notify_settings import NotifySettings, Webhook
from backends.core.notices import Notice
from backends.engine.notify import Notifier
from backends.engine.problems import Problems
from tests.aws.support import aws_fleet

pytestmark = pytest.mark.slow

SETTINGS = NotifySettings(webhook=(Webhook(url="http://127.0.0.1:9/"),))


async def test_of_two_molts_one_claims_the_event_on_the_listener(world, backend, tmp_path):
    theirs = AwsBackend(aws_fleet(world), tmp_path / "other")
    notice = Notice("rollout-aborted", "web", "rollout-aborted:abc123", "")
    try:
        claimed = await Notifier(SETTINGS, backend, "web", Problems(lambda _: None)).claim(notice)
        other = Notifier(SETTINGS, theirs, "web", Problems(lambda _: None))
        assert claimed is not None and claimed.lock.startswith("notify:")
        assert await other.claim(notice) is None
        assert (await theirs.lock_holder(claimed.lock)).record == notice.key
        assert await theirs.lock_holder() is None  # the fleet lock: free for operators
        await backend.release(claimed)  # given back with life left: the tag is removed
        assert await theirs.lock_holder(claimed.lock) is None
    finally:
        await asyncio.wait_for(theirs.close(), 10)
