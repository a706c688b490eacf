"""Settings of a fleet on the ssh backend (``backend = "ssh"``).

```toml
[fleets.web]
backend = "ssh"
hosts = ["deploy@10.0.0.11", "deploy@10.0.0.12:2222"]
artifact = "./build"
start = "python3 app.py --port {port} --host {address}"
[fleets.web.lb]
host = "deploy@10.0.0.10"
socket = "/run/haproxy/admin.sock"
backend = "web"
```
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from backends.config.health_settings import HealthSettings
from backends.config.templates import check
from backends.core.errors import ConfigError, shown

#: what an ssh ``start`` command may name
PLACEHOLDERS = ("port", "address")
#: bytes of output kept per instance on its host (the log and the one rotated before it)
LOG_SIZE = 8 * 1024 * 1024
MIN_LOG_SIZE = 64 * 1024
MAX_LOG_SIZE = 1024 * 1024 * 1024

# matched whole (``fullmatch``): ``$`` would let a trailing newline through
_HOST = re.compile(
    r"(?:(?P<user>[^@]*)@)?(?P<address>\[[^\]]*\]|[^:@\[\]]*)(?::(?P<port>[0-9]{1,5}))?"
)
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SCOPE = re.compile(r"[A-Za-z0-9_.-]+")
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def _is_hostname(text: str) -> bool:
    """Host name characters (letters, digits, ``-``, ``.``); all-digit names must be
    real IPv4 addresses (``999.1.1.1`` is a typo, not a host)."""
    name = text[:-1] if text.endswith(".") else text
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    if all(label.isdigit() for label in labels):
        return _is_address(name, ipaddress.IPv4Address)
    return True


def _is_address(text: str, kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    """``2001:db8::1`` or ``fe80::1%eth0`` (the part inside ``[…]``)."""
    address, sep, scope = text.partition("%")
    if sep and not _SCOPE.fullmatch(scope):
        return False
    return ":" in address and _is_address(address, ipaddress.IPv6Address)


@dataclass(frozen=True, slots=True, order=True)
class HostAddress:
    """``user@address:port`` of one SSH host."""

    address: str
    port: int = 22
    user: str = ""

    @classmethod
    def parse(cls, text: str, key: str = "hosts") -> HostAddress:
        """``deploy@10.0.0.11``, ``host:2222``, ``deploy@[2001:db8::1]:22``: a user name
        (optional), a host name or address, a port (optional, default 22).

        Raises:
            ConfigError: naming ``key`` and what is wrong with ``text``.
        """
        match = _HOST.fullmatch(text.strip())
        if not match or not match.group("address"):
            raise ConfigError(
                f"{key}: {text!r} must look like deploy@10.0.0.11 or deploy@host:2222"
            )
        user, address = match.group("user"), match.group("address")
        if user is not None and not _USER.fullmatch(user):
            raise ConfigError(
                f"{key}: the user in {text!r} must be letters, digits, _ . or - "
                "(starting with a letter or _), e.g. deploy@10.0.0.11"
            )
        bracketed = address.startswith("[")
        if not (_is_ipv6(address[1:-1]) if bracketed else _is_hostname(address)):
            raise ConfigError(
                f"{key}: {text!r} must name a host by letters, digits, - and . "
                "(e.g. web-1.example.com, 10.0.0.11) or an IPv6 address in brackets "
                "([2001:db8::1])"
            )
        port = int(match.group("port") or 22)
        if not 0 < port < 65536:
            raise ConfigError(f"{key}: port of {text!r} must be 1–65535")
        return cls(address.strip("[]"), port, user or "")

    @property
    def display(self) -> str:
        """How an operator names the host: its address, with the port when not 22."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return address if self.port == 22 else f"{address}:{self.port}"

    def __str__(self) -> str:
        return f"{self.user}@{self.display}" if self.user else self.display


@dataclass(frozen=True, slots=True)
class LbSettings:
    """``host``: the HAProxy host (``user@address:port``); ``socket``: the HAProxy admin
    socket on that host (``stats socket ... level admin``, read-write for that user);
    ``backend``: the HAProxy backend holding this fleet's servers; ``entry``: where
    clients reach the fleet, shown in ``status`` (default: the LB host and backend)."""

    host: str
    socket: str
    backend: str
    entry: str = ""

    def __post_init__(self) -> None:
        HostAddress.parse(self.host, "lb.host")
        if not self.socket.startswith("/"):
            raise ConfigError(f"lb.socket must be an absolute path on the LB host: {self.socket!r}")
        if not _NAME.fullmatch(self.backend):
            raise ConfigError(f"lb.backend must be an HAProxy backend name, not {self.backend!r}")

    @property
    def address(self) -> HostAddress:
        return HostAddress.parse(self.host, "lb.host")


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def _is_dir(path: Path) -> bool:
    """Whether ``path`` is a directory; a name too long for the OS is not one."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _default_known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()


@dataclass(frozen=True, slots=True)
class SshSettings:
    """``hosts``: where instances run; ``known_hosts``: host keys, always verified;
    ``identity``: private key file (default: the SSH agent and ~/.ssh keys);
    ``artifact``: the local directory uploaded once per host per generation;
    ``start``: run in the generation's directory, with ``{port}`` and ``{address}``;
    ``base_dir``: where generations live on each host; ``ports``: ``"LOW-HIGH"``
    instance ports; ``count``: instances per host; ``connect_timeout``: seconds to
    reach a host; ``max_handshakes``: SSH handshakes in flight (sshd's MaxStartups
    drops more than 10 by default); ``drain_timeout``: seconds a retiring generation's
    sessions may take to finish; ``log_size``: bytes of output kept per instance (its log
    and the one rotated before it); ``lb``: HAProxy; ``health``: HAProxy's checks."""

    hosts: tuple[str, ...]
    artifact: Path
    start: str
    lb: LbSettings
    known_hosts: Path = field(default_factory=_default_known_hosts)
    identity: Path | None = None
    base_dir: str = "/srv/molt"
    ports: str = "20000-29999"
    count: int = 1
    connect_timeout: float = 10.0
    max_handshakes: int = 8
    drain_timeout: float = 30.0
    log_size: int = LOG_SIZE
    health: HealthSettings = field(default_factory=HealthSettings)

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ConfigError('hosts must name at least one host, e.g. ["deploy@10.0.0.11"]')
        parsed = [HostAddress.parse(h) for h in self.hosts]
        if len(set(parsed)) != len(parsed):
            raise ConfigError("hosts lists the same host twice")
        if not _is_dir(self.artifact):
            raise ConfigError(f"artifact {shown(str(self.artifact))} is not a directory")
        check(self.start, PLACEHOLDERS)
        if not PurePosixPath(self.base_dir).is_absolute():
            raise ConfigError(f"base_dir must be an absolute path, not {self.base_dir!r}")
        self.port_range  # noqa: B018 - validates
        if not 1 <= self.count <= 100:
            raise ConfigError(f"count (instances per host) must be 1–100, not {self.count}")
        if not math.isfinite(self.connect_timeout) or self.connect_timeout <= 0:
            raise ConfigError(
                f"connect_timeout must be more than 0 seconds, not {self.connect_timeout}"
            )
        if not 1 <= self.max_handshakes <= 100:
            raise ConfigError("max_handshakes must be 1–100")
        if not math.isfinite(self.drain_timeout) or self.drain_timeout < 0:
            raise ConfigError(f"drain_timeout must be 0 seconds or more, not {self.drain_timeout}")
        if not MIN_LOG_SIZE <= self.log_size <= MAX_LOG_SIZE:
            raise ConfigError(
                f"log_size must be {MIN_LOG_SIZE}–{MAX_LOG_SIZE} bytes (e.g. 8388608 for "
                f"8 MiB), not {self.log_size}"
            )

    @property
    def host_addresses(self) -> tuple[HostAddress, ...]:
        return tuple(HostAddress.parse(h) for h in self.hosts)

    @property
    def port_range(self) -> range:
        low, sep, high = self.ports.partition("-")
        low, high = low.strip(), high.strip()
        if not sep or not _is_number(low) or not _is_number(high):
            raise ConfigError(f'ports must look like "20000-29999", not {self.ports!r}')
        first, last = int(low), int(high)
        if not 1024 <= first <= last <= 65535:
            raise ConfigError(f"ports must be a range within 1024–65535, not {self.ports!r}")
        return range(first, last + 1)
