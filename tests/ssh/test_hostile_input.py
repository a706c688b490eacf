"""What the deploy user's processes can write on a host does not steer Molt's scripts.

Any process of the deploy user (an instance too) can write a generation's pid files
and the LB host's ``state.json``. Fed hostile pid files, file names and state files,
the real scripts on the rig's sshd signal nothing and remove nothing outside the
generation: a sentinel process of the deploy user and sentinel files outside the
generation's tree survive every example.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backends.core.errors import BackendError
from backends.ssh.driver import SshBackend
from backends.ssh.retiring import retire_generation
from backends.ssh.settings import LbSettings
from backends.ssh.state import FleetState
from tests.ssh.processes import DEPLOY_USER

pytestmark = pytest.mark.slow


def hostile_pids(sentinel: int) -> st.SearchStrategy[str]:
    """What a pid file may hold when someone else wrote it."""
    named = [
        f"{sentinel}", f"1 -o /proc/{sentinel}", "1 -o /proc/self", "-1", "0", "1", "01",
        f"-{sentinel}", f"{sentinel} -o /proc/self", f"0{sentinel}", f"{sentinel}\n1",
        "$(kill -9 -1)", "`kill -9 -1`", "* ", "-o", "4194305", "99999999999",
    ]
    return st.one_of(st.sampled_from(named), st.text(max_size=20))


HOSTILE_NAMES = st.sampled_from(
    ["g1-a-1", "a b", "x\ny", "$(id)", "-1", "g1-a-1 999 up", "*", "1 -o -e x"]
)
# ids that would reach outside the generation, but (should the check regress) no
# further than the rig host's own /srv: no absolute path, no third ``..``
HOSTILE_IDS = st.one_of(
    st.sampled_from(
        ["..", "../..", "g1/../..", "g1\n", "g1 ", "g1;x", "*", "", "g1/..", "g0", "g01"]
    ),
    st.text(alphabet=st.characters(exclude_characters="/"), max_size=12),
)


@pytest.fixture
def scene(make_fleet, rig):
    """A fleet on the rig's first host; a sentinel process of the deploy user (cwd
    outside every tree); sentinel files beside and above the fleet's directory."""
    fleet = make_fleet(count=1, hosts=[rig.hosts[0]])
    user = pwd.getpwnam(DEPLOY_USER)
    host = rig.hosts[0]
    fleet_dir = host.srv / "molt" / fleet.name
    fleet_dir.mkdir(parents=True, exist_ok=True)
    outside = [host.srv / "sentinel", fleet_dir / "sentinel", host.srv / "molt" / "sentinel"]
    for path in outside:
        path.write_text("keep me\n")
    chown(host.srv, user)
    sentinel = subprocess.Popen(
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
         "sleep", "600"],
        cwd=host.srv,
    )
    try:
        yield fleet, fleet_dir, outside, sentinel, user
    finally:
        sentinel.kill()
        sentinel.wait(10)


def chown(root: Path, user: pwd.struct_passwd) -> None:
    for path in [root, *root.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)


def untouched(outside: list[Path], sentinel: subprocess.Popen[bytes]) -> None:
    assert sentinel.poll() is None, "the deploy user's sentinel process was signalled"
    for path in outside:
        assert path.read_text() == "keep me\n", f"{path} was removed"


def test_hostile_pid_files_and_names_signal_and_remove_nothing_outside(scene):
    fleet, fleet_dir, outside, sentinel, user = scene
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir)
    host = fleet.settings.host_addresses[0]
    loop = asyncio.new_event_loop()

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(HOSTILE_NAMES, hostile_pids(sentinel.pid)), min_size=1, max_size=4))
    def stop_and_remove(pid_files: list[tuple[str, str]]) -> None:
        home = fleet_dir / "g1"
        shutil.rmtree(home, ignore_errors=True)
        (home / "tree").mkdir(parents=True)
        (home / "run").mkdir()
        for name, content in pid_files:
            (home / "run" / f"{name}.pid").write_text(content)
        chown(home, user)
        views = loop.run_until_complete(backend.hosts.sweep([host]))
        assert views[host].failure is None
        for liveness in views[host].liveness.values():  # no pid file makes a process ours
            assert not liveness.running
        results = loop.run_until_complete(backend.hosts.destroy("g1", [host]))
        assert results[host] is None
        assert not home.exists()
        untouched(outside, sentinel)

    try:
        stop_and_remove()
    finally:
        loop.run_until_complete(backend.close())
        loop.close()


def test_hostile_state_files_are_refused_before_anything_is_signalled_or_removed(scene):
    fleet, fleet_dir, outside, sentinel, user = scene
    backend = SshBackend(fleet.rig.fleet(fleet.name, fleet.settings), fleet.state_dir)
    loop = asyncio.new_event_loop()
    good = {"id": "g1", "version": "v1", "count": 1, "launched_at": "", "launched_by": "a",
            "weight": 0, "lifecycle": "active", "hosts": [fleet.settings.hosts[0]]}
    instance = {"id": "g1-a-1", "host": fleet.settings.hosts[0], "address": "127.0.0.1",
                "port": 21000}
    fields = st.sampled_from(["generation", "instance", "address", "port", "leftover"])

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(fields, HOSTILE_IDS)
    @example("leftover", "../..")
    @example("generation", "g1/../..")
    @example("instance", "g1-a-1\nshutdown sessions server x")
    @example("address", "127.0.0.1")
    @example("port", "; rm -rf ..")
    def retire(field: str, value: str) -> None:
        generation = {**good, "instances": [dict(instance)]}
        leftovers = []
        if field == "generation":
            generation["id"] = value
        elif field == "instance":
            generation["instances"][0]["id"] = value
        elif field == "address":
            generation["instances"][0]["address"] = value + "\nshow info"
        elif field == "port":
            generation["instances"][0]["port"] = f"21000 {value}"
        else:
            leftovers = [{"host": fleet.settings.hosts[0], "generation": value}]
        state = {"format": 1, "fleet": fleet.name, "next_generation": 2,
                 "generations": [generation], "leftovers": leftovers}
        (fleet_dir / "state.json").write_text(json.dumps(state))
        with contextlib.suppress(BackendError):
            loop.run_until_complete(retire_generation(backend.parts, str(generation["id"])))
        untouched(outside, sentinel)

    try:
        retire()
        with pytest.raises(BackendError, match="is not one HAProxy command"):
            loop.run_until_complete(backend.haproxy.batch(["show info\nshutdown frontend x"]))
        # a trailing newline is no name: refused, not passed to HAProxy
        state = {"format": 1, "fleet": fleet.name, "next_generation": 2,
                 "generations": [{**good, "id": "g1\n", "instances": []}]}
        (fleet_dir / "state.json").write_text(json.dumps(state))
        status = fleet.molt("status", fleet.name)
        assert status.returncode == 1
        said = status.stderr.strip().splitlines()[-1]
        assert said.startswith("molt: ") and said.endswith(
            "is not a Molt state file ('g1\\n' is not a generation id)"
        )
    finally:
        loop.run_until_complete(backend.close())
        loop.close()


def test_names_with_a_trailing_newline_are_refused():
    with pytest.raises(BackendError, match="lb.backend must be an HAProxy backend name"):
        LbSettings(host="deploy@10.0.0.10", socket="/run/haproxy.sock", backend="web\n")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.sampled_from(["generation", "instance", "leftover"]))
def test_a_state_file_is_read_only_with_ids_molt_makes(text: str, field: str):
    generation = {"id": "g1", "version": "v1", "count": 1, "launched_at": "",
                  "launched_by": "a", "instances": [{"id": "g1-h-1", "host": "d@h",
                                                     "address": "h", "port": 20000}]}
    leftovers = []
    if field == "generation":
        generation["id"] = text
    elif field == "instance":
        generation["instances"][0]["id"] = f"g1-{text}-1"
    else:
        leftovers = [{"host": "d@h", "generation": text}]
    try:
        state = FleetState.from_json({"fleet": "web", "generations": [generation],
                                      "leftovers": leftovers})
    except (ValueError, KeyError, TypeError):
        return
    ids = [g.id for g in state.generations] + [x["generation"] for x in state.leftovers]
    assert all(re.fullmatch(r"g[1-9][0-9]*", i) for i in ids)
    for instance in state.generations[0].instances:  # a file name and one HAProxy word
        assert re.fullmatch(r"[A-Za-z0-9_.:%\[\]-]+", instance.id), instance.id
