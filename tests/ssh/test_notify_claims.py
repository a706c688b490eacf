"""A notify claim on an SSH fleet: a named lock on the LB host, beside the fleet lock and
the rollout lock — of two Molts, one claims an event; the fleet lock stays free."""

from __future__ import annotations

import pytest

from backends.config.notify_settings import NotifySettings, Webhook
from backends.core.notices import Notice
from backends.engine.notify import Notifier
from backends.engine.problems import Problems
from backends.ssh.driver import SshBackend

pytestmark = pytest.mark.slow

SETTINGS = NotifySettings(webhook=(Webhook(url="http://127.0.0.1:9/"),))


async def test_of_two_molts_one_claims_the_event_on_the_lb_host(make_fleet, tmp_path):
    fleet = make_fleet(count=1)
    config = fleet.rig.fleet(fleet.name, fleet.settings)
    mine, theirs = SshBackend(config, tmp_path / "a"), SshBackend(config, tmp_path / "b")
    notice = Notice("taint", fleet.name, "taint:g1", "")
    try:
        claimed = await Notifier(SETTINGS, mine, fleet.name, Problems(lambda _: None)).claim(notice)
        other = Notifier(SETTINGS, theirs, fleet.name, Problems(lambda _: None))
        assert claimed is not None and claimed.lock.startswith("notify:")
        assert await other.claim(notice) is None
        assert (await theirs.lock_holder(claimed.lock)).record == "taint:g1"
        assert await theirs.lock_holder() is None  # the fleet lock: free for operators
        await mine.release(claimed)
        assert await theirs.lock_holder(claimed.lock) is None
    finally:
        await mine.close()
        await theirs.close()
