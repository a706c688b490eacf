"""The operator's hand and a frozen driver, with the real ``molt`` on the local backend
under real load: a shift by hand pauses a running rollout and stays; a driver stopped
with SIGSTOP loses the rollout lease after its time to live, another Molt drives the
rollout on, and the woken driver changes nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tests.e2e.test_rollout_noisy import launch, noisy_fleet, run, weights
from tests.support.load import keep_alive_load
from tests.support.local import molt_json, molt_process, wait_for

pytestmark = pytest.mark.slow
TTL = 3  # seconds: lease_ttl in molt.toml


def rollout_of(state_dir, toml) -> dict:
    return molt_json(state_dir, "status", "web", config=toml)["rollout"] or {}


async def under_load(state_dir, toml, act):
    entry = molt_json(state_dir, "status", "web", config=toml)["entry"]
    stop = asyncio.Event()
    load = asyncio.create_task(keep_alive_load(f"http://{entry}/", 2, stop, 0))
    try:
        return await asyncio.to_thread(act)
    finally:
        stop.set()
        await load


def two_generations(state_dir):
    toml = noisy_fleet(state_dir, bake=120, fleet=f"lease_ttl = {TTL}\n")
    assert run(state_dir, toml, "promote", "web", launch(state_dir, toml, "v1")).returncode == 0
    launch(state_dir, toml, "v2")
    return toml


async def test_a_shift_by_hand_pauses_the_rollout_and_the_weights_stay(state_dir):
    toml = two_generations(state_dir)

    def act():
        driver = molt_process(state_dir, "rollout", "web", "g2", config=toml)
        try:
            wait_for(lambda: weights(state_dir, toml) == {"g1": 50, "g2": 50}, timeout=30)
            assert run(state_dir, toml, "shift", "web", "g1=100", "g2=0").returncode == 0
            paused = wait_for(lambda: (r := rollout_of(state_dir, toml))["state"] == "paused" and r)
            assert paused["reason"] == "root shifted by hand"
            time.sleep(3)  # the driver ticks on meanwhile…
            assert weights(state_dir, toml) == {"g1": 100, "g2": 0}  # …and never overwrites it
            assert run(state_dir, toml, "rollout", "web", "--abort").returncode == 0
            said, _ = driver.communicate(timeout=30)
            assert "paused (root): root shifted by hand" in said
        finally:
            driver.kill()

    await under_load(state_dir, toml, act)


async def test_a_stopped_driver_loses_the_lease_and_changes_nothing_when_continued(state_dir):
    toml = two_generations(state_dir)

    def act():
        driver = molt_process(state_dir, "rollout", "web", "g2", config=toml)
        resumer = None
        try:
            wait_for(lambda: weights(state_dir, toml) == {"g1": 50, "g2": 50}, timeout=30)
            os.kill(driver.pid, signal.SIGSTOP)  # a laptop lid
            wait_for(lambda: rollout_of(state_dir, toml)["state"] == "interrupted", timeout=TTL * 5)
            resumer = molt_process(state_dir, "rollout", "web", "--resume", config=toml)
            wait_for(lambda: rollout_of(state_dir, toml)["state"] == "running", timeout=30)
            os.kill(driver.pid, signal.SIGCONT)
            _, said = driver.communicate(timeout=30)
            assert driver.returncode == 1 and "lost the rollout lease" in said, said
            assert weights(state_dir, toml) == {"g1": 50, "g2": 50}  # it did nothing
            assert rollout_of(state_dir, toml)["state"] == "running"  # the resumer drives
            assert run(state_dir, toml, "rollout", "web", "--abort").returncode == 0
            resumer.communicate(timeout=30)
            assert weights(state_dir, toml) == {"g1": 100, "g2": 0}
        finally:
            for process in (driver, resumer):
                if process is not None and process.poll() is None:
                    os.kill(process.pid, signal.SIGCONT)
                    process.kill()

    await under_load(state_dir, toml, act)
