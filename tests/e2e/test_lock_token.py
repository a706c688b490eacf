"""The local lock's token is never shown, and is no way in (the real agent and binary).

Before: ``molt status --json`` printed the holder's token, and any Molt presenting it
to the agent was let in as the holder while the real one still acted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backends.config.loading import load_config
from backends.core.locking import Lease, Locked
from backends.local.driver import LocalBackend
from tests.support.local import local_fleet, molt, molt_json

pytestmark = pytest.mark.slow


def write_config(state_dir, fleet) -> None:
    settings = fleet.settings
    (state_dir / "molt.toml").write_text(
        '[fleets.web]\nbackend = "local"\n'
        f'artifact = "{settings.artifact}"\nstart = "{{python}} app.py --port {{port}}"\n'
        f'listen = "{settings.listen}"\ncount = 1\n'
    )


async def test_status_shows_who_holds_the_lock_never_its_token(state_dir):
    write_config(state_dir, local_fleet("web", count=1))
    fleet = load_config(state_dir / "molt.toml").fleet("web")  # as the CLI reads it
    alice = LocalBackend(fleet, state_dir)
    mallory = LocalBackend(fleet, state_dir)
    try:
        lease = await alice.acquire(Lease.new("alice", "retire g1", "r-alice"))
        config = state_dir / "molt.toml"
        status = molt_json(state_dir, "--config", str(config), "status", "web")
        lock = status["lock"]
        assert (lock["holder"], lock["action"]) == ("alice", "retire g1")
        assert lock["since"] and lock["expires"]
        shown = molt(state_dir, "--config", str(config), "status", "web")
        logs = (state_dir / "agent.log").read_text() if (state_dir / "agent.log").exists() else ""
        for where in (str(status), shown.stdout, shown.stderr, logs):
            assert lease.token not in where

        seen = await mallory.lock_holder()  # what any other Molt can read
        assert seen is not None and seen.holder == "alice" and seen.token != lease.token
        with pytest.raises(Locked) as refused:  # a token learnt somehow is no way in
            await mallory.acquire(replace(lease, holder="mallory"))
        assert "locked by alice" in refused.value.message
        assert lease.token not in refused.value.message
        assert (await alice.renew(lease)).token == lease.token  # alice still holds it
    finally:
        await mallory.close()
        await alice.close()
