"""A terminal for end-to-end UI tests: the real ``molt`` binary in a tmux window of
our own (its own ``-L`` server, so nothing else's sessions are touched)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from tests.support.local import wait_for


class Terminal:
    """One tmux server of our own (``-L``), one 120×36 window running a command."""

    def __init__(self) -> None:
        self.socket = f"molt-e2e-{uuid.uuid4().hex[:8]}"
        self.socket_path = ""

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-x", "120", "-y", "36", "-s", "molt", command)
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "molt")

    def shows(self, *texts: str, timeout: float = 30.0) -> str:
        """Wait until every text is on screen; the screen then (no fixed sleeps)."""
        try:
            wait_for(lambda: all(t in self.screen() for t in texts), timeout=timeout, every=0.1)
        except AssertionError:
            raise AssertionError(f"never saw {texts} on screen:\n{self.screen()}") from None
        return self.screen()

    def gone(self, text: str, timeout: float = 30.0) -> None:
        try:
            wait_for(lambda: text not in self.screen(), timeout=timeout, every=0.1)
        except AssertionError:
            raise AssertionError(f"{text!r} stayed on screen:\n{self.screen()}") from None

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "molt", *keys)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.socket_path:  # tmux leaves its socket file behind
            Path(self.socket_path).unlink(missing_ok=True)
