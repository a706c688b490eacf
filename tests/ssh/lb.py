"""A real HAProxy for the tests: master-worker, an admin socket the deploy user owns,
one frontend → one backend that starts with no servers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ssh.processes import DEPLOY_USER, HAPROXY, stop_process, wait_listening


@dataclass
class HaproxyProcess:
    """A real HAProxy (master-worker) with one frontend → one backend, no servers."""

    name: str
    home: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return str(self.home / "admin.sock")

    @property
    def frontend(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        return textwrap.dedent(f"""\
            global
                stats socket {self.socket} mode 600 level admin user {DEPLOY_USER}
                stats timeout 30s
            defaults
                mode http
                timeout connect 1s
                timeout client 30s
                timeout server 30s
                timeout check 1s
                option redispatch
                retries 3
                retry-on conn-failure empty-response
            frontend fe_{self.name}
                bind 127.0.0.1:{self.port}
                default_backend {self.name}
            backend {self.name}
                balance roundrobin
                option httpchk GET /healthz
            """)

    def start(self) -> HaproxyProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "haproxy.cfg").write_text(self.config())
        log = self.home / "haproxy.log"
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [HAPROXY, "-W", "-db", "-f", str(self.home / "haproxy.cfg")],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        wait_listening("127.0.0.1", self.port, self.process, log)
        self._wait_socket()
        return self

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(5)
            conn.connect(self.socket)
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def _wait_socket(self, not_pid: str | None = None) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                pid = self.worker_pid()
                if pid and pid != not_pid:
                    return
            time.sleep(0.05)
        raise RuntimeError("HAProxy's admin socket did not come up")

    def worker_pid(self) -> str:
        info = self.command("show info")
        return next((x.split(": ")[1] for x in info.splitlines() if x.startswith("Pid:")), "")

    def reload(self) -> None:
        """What an operator's ``systemctl reload haproxy`` does: a new worker from the
        config file, every runtime change gone."""
        assert self.process is not None
        before = self.worker_pid()
        os.kill(self.process.pid, signal.SIGUSR2)
        self._wait_socket(not_pid=before)

    def server_names(self) -> list[str]:
        rows = self.command(f"show stat {self.name} 4 -1").splitlines()[1:]
        return [r.split(",")[1] for r in rows if r.strip()]

    def stop(self) -> None:
        stop_process(self.process)
