"""Real parts for the ssh backend's tests: OpenSSH ``sshd`` hosts on 127.0.0.x, each
with its own ``/srv`` (``unshare -m`` + a bind mount), and HAProxy processes.

Everything here is started by the tests and stopped by pid: sshd and HAProxy
processes, and the instance processes Molt started on the hosts (found by their pid
files, and only when they still run in their generation's tree).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from backends.config.fleet_config import FleetConfig
from backends.config.health_settings import HealthSettings
from backends.local.demo import demo_artifact
from backends.ssh.settings import LbSettings, SshSettings
from tests.ssh.lb import HaproxyProcess
from tests.ssh.processes import (
    DEPLOY_USER,
    SSHD,
    START,
    TEST_ADDRESSES,
    descendants,
    free_port,
    stop_process,
    wait_listening,
)


def ensure_deploy_user() -> pwd.struct_passwd:
    """The non-root user Molt logs in as (shell /bin/sh, no password)."""
    with open("/run/molt-deploy-user.lock", "w") as lock:  # parallel test workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(DEPLOY_USER)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", DEPLOY_USER], check=True)
            subprocess.run(["usermod", "-p", "*", DEPLOY_USER], check=True)
            return pwd.getpwnam(DEPLOY_USER)


@dataclass
class SshHost:
    """One host: an sshd on its own address, with its own /srv."""

    address: str
    port: int
    home: Path
    public_key: str  # "ssh-ed25519 AAAA..."
    process: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        return f"{DEPLOY_USER}@{self.address}:{self.port}"

    @property
    def srv(self) -> Path:
        return self.home / "srv"

    @property
    def known_hosts_line(self) -> str:
        return f"[{self.address}]:{self.port} {self.public_key}"

    def hang(self) -> None:
        """``kill -STOP`` the host's sshd (and its connections): it accepts TCP, says nothing."""
        assert self.process is not None
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@dataclass
class Rig:
    """sshd hosts, a client key and a known_hosts file, in one temporary directory."""

    root: Path
    hosts: list[SshHost] = field(default_factory=list)
    haproxies: list[HaproxyProcess] = field(default_factory=list)
    extra_processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def create(cls, addresses: list[str]) -> Rig:
        user = ensure_deploy_user()
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        reap_abandoned_rigs()
        root = Path(tempfile.mkdtemp(prefix=RIG_PREFIX))
        root.chmod(0o755)
        (root / "owner").write_text(f"{os.getpid()}\n")
        rig = cls(root)
        client = asyncssh.generate_private_key("ssh-ed25519")
        client.write_private_key(str(rig.identity))
        rig.identity.chmod(0o600)
        (root / "authorized_keys").write_bytes(client.export_public_key())
        (root / "authorized_keys").chmod(0o644)
        try:
            for address in addresses:
                rig.hosts.append(rig.start_host(address, user))
        except BaseException:
            rig.stop()
            raise
        rig.write_known_hosts(rig.known_hosts, rig.hosts)
        return rig

    @property
    def identity(self) -> Path:
        return self.root / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @staticmethod
    def _host_key(home: Path) -> str:
        """A fresh ed25519 host key in ``home``; returns its public half."""
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(str(home / "host_key"))
        (home / "host_key").chmod(0o600)
        return str(key.export_public_key().decode().strip())

    def _write_sshd_config(
        self, home: Path, listen: str, *, max_startups: int, extra: str = ""
    ) -> None:
        """The test sshd: key login as the deploy user only, no PAM, SFTP built in."""
        (home / "sshd_config").write_text(listen + textwrap.dedent(f"""\
            HostKey {home / "host_key"}
            PidFile {home / "sshd.pid"}
            AuthorizedKeysFile {self.root / "authorized_keys"}
            AllowUsers {DEPLOY_USER}
            UsePAM no
            StrictModes no
            MaxStartups {max_startups}
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PrintMotd no
            LogLevel ERROR
            Subsystem sftp internal-sftp
            """) + extra)

    def start_host(self, address: str, user: pwd.struct_passwd, extra: str = "") -> SshHost:
        home = self.root / "hosts" / address
        (home / "srv").mkdir(parents=True)
        os.chown(home / "srv", user.pw_uid, user.pw_gid)
        public = self._host_key(home)
        port = free_port(address)
        listen = f"ListenAddress {address}:{port}\n"
        self._write_sshd_config(home, listen, max_startups=100, extra=extra)
        host = SshHost(address, port, home, public)
        host.process = self._spawn_sshd(host)
        return host

    def start_shared_sshd(self, addresses: list[str], max_startups: int) -> list[SshHost]:
        """One sshd answering on many addresses: hosts that share its ``MaxStartups``
        (as hosts behind one bastion or NAT address do)."""
        home = self.root / "shared" / addresses[0]
        home.mkdir(parents=True)
        public = self._host_key(home)
        hosts = [SshHost(a, free_port(a), home, public) for a in addresses]
        listen = "".join(f"ListenAddress {h.address}:{h.port}\n" for h in hosts)
        self._write_sshd_config(home, listen, max_startups=max_startups)
        log = home / "sshd.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(home / "sshd_config")],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.extra_processes.append(process)
        self.remember(process)
        for host in hosts:
            host.process = process
            wait_listening(host.address, host.port, process, log)
        return hosts

    def remember(self, process: subprocess.Popen[bytes]) -> None:
        """Note the pid, so a later run can stop it if this one is killed before its end."""
        with (self.root / "pids").open("a") as pids:
            pids.write(f"{process.pid}\n")

    def _spawn_sshd(self, host: SshHost) -> subprocess.Popen[bytes]:
        log = host.home / "sshd.log"
        command = f"mount --bind {host.srv} /srv && exec {SSHD} -D -e -f {host.home}/sshd_config"
        with log.open("ab") as output:
            process = subprocess.Popen(
                ["unshare", "-m", "sh", "-c", command],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.remember(process)
        wait_listening(host.address, host.port, process, log)
        return process

    @staticmethod
    def write_known_hosts(path: Path, hosts: list[SshHost]) -> Path:
        path.write_text("".join(h.known_hosts_line + "\n" for h in hosts))
        return path

    def fresh_name(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def haproxy(self, name: str) -> HaproxyProcess:
        proxy = HaproxyProcess(name, self.root / "haproxy" / name, free_port("127.0.0.1"))
        self.haproxies.append(proxy)
        proxy.start()
        assert proxy.process is not None
        self.remember(proxy.process)
        return proxy

    def settings(
        self,
        hosts: list[str],
        lb_host: SshHost,
        proxy: HaproxyProcess,
        **overrides: object,
    ) -> SshSettings:
        values: dict[str, object] = {
            "hosts": tuple(hosts),
            "artifact": demo_artifact(),
            "start": START,
            "lb": LbSettings(host=lb_host.spec, socket=proxy.socket, backend=proxy.name,
                             entry=f"127.0.0.1:{proxy.port}"),
            "known_hosts": self.known_hosts,
            "identity": self.identity,
            "ports": "21000-21999",
            "connect_timeout": 3.0,
            "drain_timeout": 5.0,
            "health": HealthSettings(interval=0.2, timeout=1.0),
        }
        values.update(overrides)
        return SshSettings(**values)  # type: ignore[arg-type]

    def fleet(self, name: str, settings: SshSettings) -> FleetConfig:
        return FleetConfig(name=name, backend="ssh", settings=settings, source="test")

    def fleet_dirs(self, fleet: str) -> list[Path]:
        return [h.srv / "molt" / fleet for h in self.hosts if (h.srv / "molt" / fleet).exists()]

    def kill_instances(self, fleet: str | None = None) -> int:
        """SIGKILL the instance processes Molt started (by pid file, checking each still
        runs in its generation's tree). Returns how many were running."""
        killed = 0
        for host in self.hosts:
            pattern = f"molt/{fleet or '*'}/g*/run/*.pid"
            for pid_file in host.srv.glob(pattern):
                with contextlib.suppress(ValueError, OSError):
                    pid = int(pid_file.read_text().strip())
                    tree = pid_file.parent.parent / "tree"
                    # the leader (a `sh -c` wrapper) may be gone while its group lives on
                    if _group_in(pid, tree):
                        os.killpg(pid, signal.SIGKILL)
                        killed += 1
        return killed

    def remove_fleet(self, fleet: str) -> None:
        for directory in self.fleet_dirs(fleet):
            shutil.rmtree(directory, ignore_errors=True)

    def stop(self) -> None:
        self.kill_instances()
        for proxy in self.haproxies:
            proxy.stop()
        for process in [*(h.process for h in self.hosts), *self.extra_processes]:
            stop_process(process)
        shutil.rmtree(self.root, ignore_errors=True)


def _group_in(pgid: int, tree: Path) -> bool:
    """Does a process of group ``pgid`` still run in ``tree`` (its leader, or a member)?"""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.name.isdigit():
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[2]) == pgid and os.path.samefile(entry / "cwd", tree):
                    return True
    return False


RIG_PREFIX = "molt-ssh-"


def reap_abandoned_rigs() -> None:
    """Stop what an earlier test run started and could not stop (it was killed): only
    rigs whose owner process is gone, only pids it recorded that still run its files."""
    for root in Path(tempfile.gettempdir()).glob(f"{RIG_PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            owner = int((root / "owner").read_text())
            if Path(f"/proc/{owner}").exists():
                continue
            pids = (root / "pids").read_text().split() if (root / "pids").exists() else []
            for pid in pids:
                with contextlib.suppress(OSError):
                    if str(root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                        os.kill(int(pid), signal.SIGKILL)
            abandoned = Rig(root, hosts=[
                SshHost(d.name, 0, d, "") for d in (root / "hosts").iterdir()
            ])
            abandoned.kill_instances()
            shutil.rmtree(root, ignore_errors=True)


_RIG: Rig | None = None


def shared_rig() -> Rig:
    """Three hosts for the whole test session, started on first use."""
    global _RIG
    if _RIG is None:
        _RIG = Rig.create(TEST_ADDRESSES[:3])
        atexit.register(_RIG.stop)
    return _RIG
