"""A look never moves traffic (issue 18, finding 1): ``molt status`` with a molt.toml
whose ``listen`` differs reports the difference and the proxy stays where it is, while a
client keeps hitting it; ``molt apply`` moves it — bound before the old address is let
go, locked and journaled, refused in read-only mode and when the new address is taken."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.test_read_only import answers, config
from tests.support.local import molt, wait_for

pytestmark = pytest.mark.slow


class SteadyClient:
    """Requests the proxy on a fresh connection, as often as it answers, until stopped;
    counts what each attempt ended in."""

    def __init__(self, listen: str) -> None:
        self.url = f"http://{listen}/"
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    self.seen[str(answer.status)] += 1
            except OSError as error:
                reason = getattr(error, "reason", error)
                self.seen[type(reason).__name__] += 1
            self._stop.wait(0.01)

    def __enter__(self) -> SteadyClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def records(state_dir: Path, toml: Path) -> list[dict]:
    done = molt(state_dir, "history", "web", "--json", config=toml)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["records"])


@pytest.fixture
def live(state_dir):
    """web live on one address; other.toml names another."""
    first, second = f"127.0.0.1:{free()}", f"127.0.0.1:{free()}"
    toml = config(state_dir / "molt.toml", first)
    other = config(state_dir / "other.toml", second)
    launched = molt(state_dir, "launch", "web", "--version", "v1", "--wait", config=toml)
    assert launched.returncode == 0, launched.stderr
    assert molt(state_dir, "promote", "web", "g1", config=toml).returncode == 0
    return first, second, toml, other


def free() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_status_with_another_listen_moves_nothing_and_names_molt_apply(state_dir, live):
    first, second, toml, other = live
    with SteadyClient(first) as client:
        wait_for(lambda: client.seen["200"] >= 10)
        for _ in range(3):
            looked = molt(state_dir, "status", "web", config=other)
            assert looked.returncode == 0, looked.stderr
        watched = molt(state_dir, "watch", "web", "--timeout", "1", config=other)
        wait_for(lambda: client.seen["200"] >= 40)
    assert set(client.seen) == {"200"}, client.seen  # no ConnectionRefusedError
    assert f"molt.toml sets listen = '{second}', the fleet runs with '{first}'" in looked.stdout
    assert "`molt apply web` applies it" in looked.stdout
    assert "molt apply web" in watched.stdout
    assert answers(first) and not answers(second)
    assert not any(r["action"] == "apply" for r in records(state_dir, toml))


def test_molt_apply_moves_the_proxy_journaled_and_only_once(state_dir, live):
    first, second, toml, other = live
    refused = molt(state_dir, "--read-only", "apply", "web", config=other)
    assert refused.returncode == 1 and "read-only mode: apply is not allowed" in refused.stderr
    assert answers(first)
    applied = molt(state_dir, "apply", "web", config=other)
    assert applied.returncode == 0, applied.stderr
    assert f"the proxy listens on {second} (was {first})" in applied.stdout
    assert answers(second) and not answers(first)
    done = [r for r in records(state_dir, other) if r["action"] == "apply"]
    assert [r["outcome"] for r in done] == ["ok"]
    assert "listen" in done[0]["args"]["differences"][0]
    again = molt(state_dir, "apply", "web", config=other)
    assert again.returncode == 0 and "nothing to apply" in again.stdout
    assert len([r for r in records(state_dir, other) if r["action"] == "apply"]) == 1
    status = molt(state_dir, "status", "web", "--json", config=other)
    assert json.loads(status.stdout)["entry"] == second
    assert not json.loads(status.stdout)["differences"]


def test_an_apply_whose_address_is_taken_is_refused_and_the_proxy_stays(state_dir, live):
    first, _, toml, _ = live
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        third = config(state_dir / "third.toml", busy)
        refused = molt(state_dir, "apply", "web", config=third)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"molt: cannot listen on {busy}")
    assert f"the proxy stays on {first}" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert answers(first)
    outcomes = [r["outcome"] for r in records(state_dir, toml) if r["action"] == "apply"]
    assert outcomes == ["refused"]
