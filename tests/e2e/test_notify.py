"""Telling the team, end to end: real ``molt`` processes, a real local fleet, and a real
HTTP receiver on 127.0.0.1 counting what it is sent. Two Molts watching one fleet send
one POST per event; a receiver that fails once gets it after a retry; one that never
answers slows no shift; ``molt notify test`` says how each webhook answered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backends.config.loading import load_config
from backends.engine.session import FleetSession
from backends.local.demo import demo_artifact
from backends.local.processes import free_port
from tests.support.load import keep_alive_load
from tests.support.local import molt, molt_json, molt_process

pytestmark = pytest.mark.slow


class Receiver:
    """A webhook on 127.0.0.1: answers each POST with the next of ``answers`` (the last
    one from then on) and keeps the bodies it was sent."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers or (200,))
        self.bodies: list[dict[str, object]] = []
        self.tries = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.tries += 1
                status = receiver.answers[min(receiver.tries, len(receiver.answers)) - 1]
                if status < 300:
                    receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/SECRET-TOKEN"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, kind: str) -> list[dict[str, object]]:
        return [b for b in self.bodies if b.get("event") == kind]


@contextlib.contextmanager
def silent_receiver() -> Iterator[str]:
    """A webhook that accepts the connection and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        for conn in held:
            conn.close()
        listener.close()


def write_config(state_dir: Path, *hooks: str, timeout: float = 2) -> Path:
    """A local fleet of the demo app; each of ``hooks`` is a webhook's url, with
    ``|format`` after it for another format than JSON."""
    webhooks = "".join(
        f'[[notify.webhook]]\nurl = "{url}"\nformat = "{form or "json"}"\ntimeout = {timeout}\n'
        for url, _, form in (hook.partition("|") for hook in hooks)
    )
    config = state_dir / "molt.toml"
    config.write_text(
        f"""[fleets.web]
artifact = "{demo_artifact()}"
start = "{{python}} app.py --port {{port}}"
listen = "127.0.0.1:{free_port()}"
count = 1
[fleets.web.health]
interval = 0.2
start_period = 10

{webhooks}"""
    )
    return config


def launch(state_dir: Path, config: Path, second: str = "v2") -> None:
    """g1 and g2 (version ``second``), g1 carrying the traffic."""
    for version in ("v1", second):
        done = molt(state_dir, "launch", "web", "--version", version, "--wait", config=config)
        assert done.returncode == 0, done.stderr
    assert molt(state_dir, "promote", "web", "g1", config=config).returncode == 0


def hand_edit(state_dir: Path, generation: str) -> None:
    """A hot fix typed into a frozen tree: the agent journals the taint."""
    app = state_dir / "fleets" / "web" / generation / "tree" / "app.py"
    mode = app.stat().st_mode
    app.chmod(0o644)
    with app.open("a") as edited:
        edited.write("\nDEBUG = True\n")
    app.chmod(mode)


def until(condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Watcher:
    """A ``molt watch web`` process, its lines read as they come."""

    def __init__(self, state_dir: Path, config: Path) -> None:
        self.process = molt_process(state_dir, "watch", "web", "--timeout", "600", config=config)
        self.lines: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None
        threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True).start()

    def stop(self) -> str:
        """Stop it; what it said on stderr (its stdout is the reader thread's)."""
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.process.stderr.read() if self.process.stderr else ""


def watching(state_dir: Path, config: Path, count: int) -> list[Watcher]:
    """``count`` watchers, each following the fleet (it printed a shift): what happens
    from now on is news to each."""
    watchers = [Watcher(state_dir, config) for _ in range(count)]
    weights = ["g1=100 g2=0", "g1=90 g2=10"]
    for turn in range(60):
        if all(w.lines for w in watchers):
            break
        shifted = molt(state_dir, "shift", "web", *weights[turn % 2].split(), config=config)
        assert shifted.returncode == 0, shifted.stderr
        time.sleep(1)
    assert all(w.lines for w in watchers), [w.stop() for w in watchers]
    return watchers


def stop(watchers: list[Watcher]) -> str:
    return "".join(w.stop() for w in watchers)


def test_two_molts_watching_send_one_post_per_event(state_dir):
    with Receiver() as receiver:
        config = write_config(state_dir, receiver.url)
        launch(state_dir, config)
        watchers = watching(state_dir, config, 2)
        try:
            hand_edit(state_dir, "g1")
            assert until(lambda: receiver.events("taint"), 30), receiver.bodies
            time.sleep(8)  # both Molts have looked again since: the other one stayed quiet
        finally:
            errors = stop(watchers)
    taints = receiver.events("taint")
    assert len(taints) == 1, (taints, errors)
    assert taints[0]["fleet"] == "web"
    assert "g1 is tainted" in str(taints[0]["text"])
    assert "changed app.py" in str(taints[0]["text"])


def test_a_receiver_that_fails_once_gets_the_event_after_a_retry(state_dir):
    with Receiver(500, 200) as receiver:
        config = write_config(state_dir, receiver.url)
        launch(state_dir, config)
        watchers = watching(state_dir, config, 1)
        try:
            hand_edit(state_dir, "g1")
            assert until(lambda: receiver.events("taint"), 30), receiver.tries
            time.sleep(2)
        finally:
            errors = stop(watchers)
    assert receiver.tries == 2
    assert len(receiver.events("taint")) == 1, errors
    assert "failed" not in errors


async def test_a_rollout_aborted_is_told_once_by_molt_rollout_and_a_watcher(state_dir):
    with Receiver() as receiver:
        config = write_config(state_dir, receiver.url)
        launch(state_dir, config, second="v2-errors")  # fails a third of real requests
        watchers = watching(state_dir, config, 1)
        try:
            assert molt(state_dir, "shift", "web", "g1=100", "g2=0", config=config).returncode == 0
            entry = molt_json(state_dir, "status", "web", config=config)["entry"]
            stop_load = asyncio.Event()
            load = asyncio.create_task(keep_alive_load(f"http://{entry}/", 4, stop_load, 0))
            try:
                rolled = await asyncio.to_thread(
                    molt, state_dir, "rollout", "web", "g2", "--steps", "10,100", "--bake", "8",
                    config=config,
                )  # fmt: skip
            finally:
                stop_load.set()
                await load
            assert rolled.returncode == 1, rolled.stderr  # aborted by the judge
            # told by whichever saw it first: molt rollout, or the watcher
            told = await asyncio.to_thread(until, lambda: receiver.events("rollout-aborted"), 20)
            assert told, receiver.bodies
            await asyncio.sleep(8)  # both have looked since: the other one stayed quiet
        finally:
            errors = stop(watchers)
    (aborted,) = receiver.events("rollout-aborted")
    assert "rollout of g2 aborted (by the rollout judge)" in str(aborted["text"]), errors


async def test_a_receiver_that_never_answers_is_a_problem_and_slows_no_shift(state_dir):
    async def shift_took(session: FleetSession, weights: dict[str, int]) -> float:
        began = time.monotonic()
        flight = session.shift(weights)
        await flight.task
        assert flight.error is None, flight.error
        return time.monotonic() - began

    with silent_receiver() as url:
        config = write_config(state_dir, url, timeout=5)
        launch(state_dir, config)
        async with FleetSession(load_config(str(config)).fleet("web"), state_dir) as session:
            session.start()  # a session like the TUI's: it tells the team
            notifier = session.notifier
            assert notifier is not None
            await wait_until(lambda: notifier.looked_once, 30)
            calm = await shift_took(session, {"g1": 90, "g2": 10})
            hand_edit(state_dir, "g1")
            await wait_until(lambda: notifier.sent == 1, 30)  # claimed: now posting, stuck
            busy = await shift_took(session, {"g1": 100, "g2": 0})
            failed = f"notify: webhook {url.removesuffix('/hook')} failed: no answer within 5 s"
            await wait_until(lambda: failed in session.problem, 60)
    # a shift that waited for the webhook would take its 3 tries of 5 s and 5 s of
    # pauses more: 20 s; a shift on a loaded machine takes a few seconds
    assert busy < calm + 8, (calm, busy)
    assert "/hook" not in session.problem


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.1)


def test_molt_notify_test_says_how_each_webhook_answered(state_dir):
    with Receiver() as good, Receiver() as slack, Receiver(500) as bad:
        config = write_config(state_dir, good.url, slack.url + "|slack", bad.url)
        done = molt(state_dir, "notify", "test", config=config)
        as_json = molt(state_dir, "notify", "test", "--json", config=config)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        f"http://127.0.0.1:{good.server.server_port} (json): ok",
        f"http://127.0.0.1:{slack.server.server_port} (slack): ok",
        f"http://127.0.0.1:{bad.server.server_port} (json): failed: HTTP 500 (1 try)",
    ]
    assert good.bodies[0]["event"] == "test" and good.bodies[0]["fleet"] == "example"
    assert slack.bodies[0] == {"text": good.bodies[0]["text"]}  # Slack's shape
    assert as_json.returncode == 1
    answers = json.loads(as_json.stdout)["webhooks"]
    assert [(a["ok"], a["error"]) for a in answers] == [
        (True, None),
        (True, None),
        (False, "HTTP 500 (1 try)"),
    ]
    assert "SECRET" not in done.stdout + done.stderr + as_json.stdout


def test_molt_notify_test_with_no_section_says_how_to_add_one(state_dir):
    config = write_config(state_dir)
    done = molt(state_dir, "notify", "test", config=config)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "[[notify.webhook]]" in done.stderr
