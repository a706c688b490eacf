"""``molt status`` and ``molt report`` with no fleet, through the real binary: two local
fleets with real instances beside two SSH fleets that cannot be read — one whose host
refuses connections, one whose host accepts them and never answers (a black hole, with
a minute's connect timeout). Every fleet shows, the dead ones marked, and the answer
does not wait for the black hole. (The estate with the SSH rig and moto: tests/ssh.)"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from backends.local.demo import demo_artifact
from backends.local.processes import free_port
from tests.support.local import agent_pids, molt, state_dir_env

pytestmark = pytest.mark.slow

BLACK_HOLE_TIMEOUT = 60  # the dead host's connect_timeout: the estate must not wait for it


def local_toml(name: str, listen: str, count: int) -> str:
    return (
        f'[fleets.{name}]\nlisten = "{listen}"\nartifact = "{demo_artifact()}"\n'
        f'start = "{{python}} app.py --port {{port}}"\ncount = {count}\n'
        f"[fleets.{name}.health]\ninterval = 0.2\nstart_period = 10\n"
    )


def dead_ssh_toml(name: str, port: int, keys: Path) -> str:
    return (
        f'[fleets.{name}]\nbackend = "ssh"\nhosts = ["deploy@127.0.0.1:{port}"]\n'
        f'known_hosts = "{keys / "known_hosts"}"\nidentity = "{keys / "id"}"\n'
        f'artifact = "{demo_artifact()}"\nstart = "python3 app.py --port {{port}}"\n'
        f'ports = "21000-21099"\nconnect_timeout = {BLACK_HOLE_TIMEOUT}\n'
        f'[fleets.{name}.lb]\nhost = "deploy@127.0.0.1:{port}"\nsocket = "/run/haproxy.sock"\n'
        f'backend = "{name}"\nentry = "127.0.0.1:80"\n'
    )


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port whose listener completes TCP handshakes and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture(scope="module")
def estate() -> Iterator[tuple[Path, Path, Path]]:
    """(state dir, molt.toml of all four fleets, molt.toml of the two local ones)."""
    with state_dir_env() as state_dir, black_hole() as hole:
        keys = state_dir / "keys"
        keys.mkdir()
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(keys / "id"))
        (keys / "known_hosts").write_text("")
        web, api = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        local = local_toml("web", web, 2) + local_toml("api", api, 1)
        (state_dir / "local.toml").write_text(local)
        everything = local + dead_ssh_toml("gone", free_port(), keys)
        (state_dir / "molt.toml").write_text(everything + dead_ssh_toml("hung", hole, keys))
        for fleet, version in (("web", "v1"), ("api", "v7")):
            launched = molt(state_dir, "launch", fleet, "--version", version, "--wait")
            assert launched.returncode == 0, launched.stderr
            assert molt(state_dir, "promote", fleet, "g1").returncode == 0
        for _ in range(20):
            with urllib.request.urlopen(f"http://{web}/", timeout=5) as answer:
                answer.read()
        yield state_dir, state_dir / "molt.toml", state_dir / "local.toml"


def rows(stdout: str) -> dict[str, list[str]]:
    lines = [line for line in stdout.splitlines() if line and not line.startswith("!")]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_status_shows_every_fleet_and_never_waits_for_a_dead_one(estate):
    state_dir, config, _ = estate
    started = time.monotonic()
    done = molt(state_dir, "status", config=config, timeout=BLACK_HOLE_TIMEOUT)
    elapsed = time.monotonic() - started
    assert elapsed < BLACK_HOLE_TIMEOUT / 3, elapsed  # the black hole was not waited for
    assert done.returncode == 1, done.stderr  # a fleet could not be read
    assert "Traceback" not in done.stderr
    shown = rows(done.stdout)
    assert done.stdout.splitlines()[0].split() == [
        "FLEET",
        "BACKEND",
        "GENERATIONS",
        "HEALTHY",
        "REQ/S",
        "5XX",
        "P99",
        "ROLLOUT",
    ]
    assert list(shown)[:2] in (["gone", "hung"], ["hung", "gone"])  # attention first
    assert shown["web"][1:6] == ["local", "g1", "v1", "100%", "2/2"]
    assert shown["web"][6] != "—"  # requests were counted
    assert shown["api"][1:6] == ["local", "g1", "v7", "100%", "1/1"]
    assert shown["hung"][1:3] == ["ssh", "unreachable"]
    notes = [line for line in done.stdout.splitlines() if line.startswith("!")]
    assert any(
        n.startswith("! hung: unreachable since ") and "no answer in 5 s" in n for n in notes
    ), notes
    assert any(n.startswith("! gone: unreachable since ") for n in notes), notes


def test_status_json_is_each_fleets_status_with_reachable_and_problem(estate):
    state_dir, config, local = estate
    done = molt(state_dir, "status", "--json", config=config, timeout=BLACK_HOLE_TIMEOUT)
    assert done.returncode == 1, done.stderr
    fleets = {f["fleet"]: f for f in json.loads(done.stdout)}
    assert set(fleets) == {"web", "api", "gone", "hung"}
    alone = json.loads(molt(state_dir, "status", "web", "--json").stdout)
    assert set(fleets["web"]) == {*alone, "reachable", "problem"}
    assert fleets["web"]["generations"][0]["id"] == alone["generations"][0]["id"] == "g1"
    assert fleets["web"]["reachable"] is True and fleets["web"]["problem"] is None
    assert fleets["hung"] == {
        "fleet": "hung",
        "backend": "ssh",
        "reachable": False,
        "problem": "no answer in 5 s",
    }
    only_local = molt(state_dir, "status", "--json", config=local)
    assert only_local.returncode == 0, only_local.stderr  # every fleet read: exit 0
    assert [f["reachable"] for f in json.loads(only_local.stdout)] == [True, True]


def test_report_has_a_section_per_fleet(estate):
    state_dir, config, _ = estate
    done = molt(state_dir, "report", "--since", "2h", config=config, timeout=BLACK_HOLE_TIMEOUT)
    assert done.returncode == 1, done.stderr
    headings = [line for line in done.stdout.splitlines() if line.startswith("# ")]
    assert len(headings) == 4, headings
    assert "# hung: unreachable" in headings
    assert any(h.startswith("# web: ") for h in headings)
    assert "Molt could not read hung: no answer in 5 s" in done.stdout
    assert "| g1 | v7 | live | 100% | 1/1 |" in done.stdout  # api's generations now


def test_a_look_at_the_demo_launches_nothing(state_dir):
    """No molt.toml: the two demo fleets. A look shows them as they are (empty) — the
    demo's first generation is launched by opening a fleet, never by a look at all."""
    for _ in range(2):
        done = molt(state_dir, "status", "--json")
        assert done.returncode == 0, done.stderr
        shown = {f["fleet"]: f["generations"] for f in json.loads(done.stdout)}
        assert shown == {"web": [], "api": []}
    assert agent_pids(state_dir)[1] == []  # no instance was started
