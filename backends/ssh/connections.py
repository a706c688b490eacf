"""One kept-open asyncssh connection per host, shared by every operation.

Handshakes are bounded (sshd drops unauthenticated connections past ``MaxStartups``,
10 by default), sessions per connection too (``MaxSessions``, 10 by default). A lost
connection is re-opened on next use; a host that failed is not retried for a moment,
so one dead host does not slow every read of the fleet down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncssh

from backends.core.errors import AuthError, BackendError, ConfigError, Unreachable
from backends.ssh.settings import HostAddress

SESSIONS_PER_HOST = 6  # below sshd's MaxSessions (10), leaving room for the SFTP session
RETRY_AFTER = 3.0  # seconds a failed host is reported failed without a new attempt
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Completed:
    """What a remote command printed and how it exited."""

    stdout: str
    stderr: str
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 0

    def reason(self) -> str:
        text = (self.stderr or self.stdout).strip().splitlines()
        return text[-1] if text else f"exit status {self.status}"


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    known_hosts: Path
    identity: Path | None
    connect_timeout: float


class _Client(asyncssh.SSHClient):
    def __init__(self, on_lost: Callable[[], None]) -> None:
        self._on_lost = on_lost

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost()


class HostConnection:
    """The kept-open connection to one host, opened on first use."""

    def __init__(
        self, host: HostAddress, options: ConnectOptions, handshakes: asyncio.Semaphore
    ) -> None:
        self.host = host
        self.options = options
        self._handshakes = handshakes
        self._sessions = asyncio.Semaphore(SESSIONS_PER_HOST)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._connecting: asyncio.Task[asyncssh.SSHClientConnection] | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._failure: BackendError | None = None
        self._failed_at = 0.0
        self.connects = 0  # how many handshakes this connection needed (tests, benchmark)

    @property
    def name(self) -> str:
        return self.host.display

    @property
    def failure(self) -> BackendError | None:
        """Why the last attempt to reach this host failed (None once it answers again)."""
        return self._failure

    async def connection(self, *, patient: bool = True) -> asyncssh.SSHClientConnection:
        """The open connection, connecting (once, whoever asks) when there is none.

        Not ``patient``: a host that failed last time is retried in the background and
        its last failure raised at once, so a hung host does not stall every sweep."""
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        loop = asyncio.get_running_loop()
        failure = self._failure
        if self._connecting is None:
            if failure is not None and loop.time() - self._failed_at < RETRY_AFTER:
                raise failure
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(_consume)
        task = self._connecting
        if failure is not None and not patient:
            raise failure
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._connecting is task:
                self._connecting = None

    async def _connect(self) -> asyncssh.SSHClientConnection:
        loop = asyncio.get_running_loop()
        timeout = self.options.connect_timeout
        try:
            async with self._handshakes:
                conn, _client = await asyncio.wait_for(
                    asyncssh.create_connection(
                        lambda: _Client(self._lost),
                        self.host.address,
                        self.host.port,
                        username=self.host.user or (),
                        known_hosts=str(self.options.known_hosts),
                        client_keys=[str(self.options.identity)] if self.options.identity else (),
                        connect_timeout=timeout,
                        login_timeout=timeout,
                        keepalive_interval=max(timeout, 5.0),
                        keepalive_count_max=3,
                    ),
                    timeout + 0.5,
                )
        except Exception as error:
            self._failure = await self._translate(error)
            self._failed_at = loop.time()
            raise self._failure from error
        self.connects += 1
        self._failure = None
        self._conn = conn
        return conn

    def _failed(self, failure: BackendError) -> BackendError:
        self._failure = failure
        self._failed_at = asyncio.get_running_loop().time()
        self.drop()
        return failure

    def _lost(self) -> None:
        self._conn = None
        self._sftp = None

    async def _translate(self, error: BaseException) -> BackendError:
        where = str(self.host)
        if isinstance(error, asyncssh.HostKeyNotVerifiable):
            return await self._host_key_refused()
        if isinstance(error, asyncssh.PermissionDenied):
            how = f"key {self.options.identity}" if self.options.identity else "the SSH agent"
            return AuthError(
                f"{where}: permission denied with {how}; is its public key in "
                f"~{self.host.user}/.ssh/authorized_keys?"
            )
        if isinstance(error, TimeoutError):
            return Unreachable(
                f"{where}: no SSH answer within {self.options.connect_timeout:g} s "
                "(host down, hung or filtered)"
            )
        if isinstance(error, OSError):
            return Unreachable(f"{where}: {error.strerror or error}")
        if isinstance(error, asyncssh.Error):
            return Unreachable(f"{where}: {error.reason}")
        if isinstance(error, ValueError | FileNotFoundError):
            return ConfigError(f"cannot connect to {where}: {error}")
        return Unreachable(f"{where}: {type(error).__name__}: {error}")

    async def _host_key_refused(self) -> AuthError:
        """Name the key the host offered, so the operator can check it out of band."""
        host, port = self.host.address, self.host.port
        try:
            known = asyncssh.read_known_hosts(str(self.options.known_hosts))
            listed = bool(known.match(host, host, port)[0])
        except (OSError, ValueError):
            listed = False
        fingerprint = "unknown"
        with contextlib.suppress(Exception):
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(host, port), self.options.connect_timeout
            )
            if key is not None:
                fingerprint = f"{key.get_algorithm()} {key.get_fingerprint()}"
        what = "CHANGED" if listed else "unknown"
        return AuthError(
            f"{self.host.display}: host key {what}, refused; the host offers {fingerprint}. "
            f"If it is right, add it to {self.options.known_hosts}",
            title="Host key refused",
        )

    async def run(
        self, command: str, *, stdin: str | None = None, timeout: float, patient: bool = True
    ) -> Completed:
        """Run ``command`` with ``/bin/sh`` on the host; :class:`Unreachable` when it does
        not finish in ``timeout`` seconds (the connection is then dropped and re-opened)."""
        conn = await self.connection(patient=patient)
        async with self._sessions:
            try:
                done = await asyncio.wait_for(conn.run(command, input=stdin), timeout)
            except TimeoutError:
                hung = f"{self.name}: no answer within {timeout:g} s; the host may be hung"
                raise self._failed(Unreachable(hung)) from None
            except (asyncssh.Error, OSError) as error:
                self.drop()
                raise Unreachable(f"{self.name}: connection lost ({error})") from error
        return Completed(
            _text(done.stdout), _text(done.stderr), done.exit_status if done.exit_status else 0
        )

    @contextlib.asynccontextmanager
    async def process(self, command: str) -> AsyncIterator[asyncssh.SSHClientProcess[str]]:
        """A long-running remote command (e.g. one holding a lock while we act)."""
        conn = await self.connection()
        async with self._sessions:
            try:
                process = await asyncio.wait_for(
                    conn.create_process(command), self.options.connect_timeout
                )
            except TimeoutError:
                self.drop()
                raise Unreachable(f"{self.name}: no answer starting a command") from None
            except (asyncssh.Error, OSError) as error:
                self.drop()
                raise Unreachable(f"{self.name}: connection lost ({error})") from error
            try:
                yield process
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait_closed(), self.options.connect_timeout)
            finally:
                process.close()

    async def sftp(self) -> asyncssh.SFTPClient:
        """The host's SFTP session, kept open beside the connection."""
        conn = await self.connection()
        if self._sftp is None:
            try:
                self._sftp = await asyncio.wait_for(
                    conn.start_sftp_client(), self.options.connect_timeout
                )
            except (TimeoutError, asyncssh.Error, OSError) as error:
                self.drop()
                raise Unreachable(f"{self.name}: cannot open SFTP ({error})") from error
        return self._sftp

    async def with_sftp(
        self, action: Callable[[asyncssh.SFTPClient], Awaitable[T]], *, timeout: float, what: str
    ) -> T:
        """Run ``action`` with the SFTP session, mapping its failures."""
        sftp = await self.sftp()
        try:
            return await asyncio.wait_for(action(sftp), timeout)
        except TimeoutError:
            self.drop()
            raise Unreachable(f"{self.name}: {what} did not finish within {timeout:g} s") from None
        except asyncssh.SFTPError as error:
            raise BackendError(f"{self.name}: {what}: {error.reason}") from error
        except (asyncssh.Error, OSError) as error:
            self.drop()
            raise Unreachable(f"{self.name}: connection lost during {what} ({error})") from error

    async def open_unix(
        self, path: str, timeout: float
    ) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]:
        """A stream to a Unix socket on the host, through the SSH connection."""
        conn = await self.connection()
        try:
            return await asyncio.wait_for(conn.open_unix_connection(path, encoding=None), timeout)
        except TimeoutError:
            self.drop()
            raise Unreachable(f"{self.name}: no answer within {timeout:g} s") from None

    def drop(self) -> None:
        """Forget the connection (it is re-opened on next use)."""
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(BaseException):
                await self._connecting
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()


class HostPool:
    """Every host of a fleet (and its LB host), each connected on demand."""

    def __init__(self, options: ConnectOptions, max_handshakes: int) -> None:
        self.options = options
        self._handshakes = asyncio.Semaphore(max_handshakes)
        self._hosts: dict[HostAddress, HostConnection] = {}

    def __getitem__(self, host: HostAddress) -> HostConnection:
        found = self._hosts.get(host)
        if found is None:
            found = self._hosts[host] = HostConnection(host, self.options, self._handshakes)
        return found

    async def each(
        self,
        hosts: Iterable[HostAddress],
        action: Callable[[HostConnection], Awaitable[T]],
    ) -> dict[HostAddress, T | BackendError]:
        """``action`` on every host at once; a host's failure is its result, so the
        others proceed."""
        targets = list(dict.fromkeys(hosts))

        async def one(host: HostAddress) -> T | BackendError:
            try:
                return await action(self[host])
            except BackendError as error:
                return error

        results = await asyncio.gather(*(one(h) for h in targets))
        return dict(zip(targets, results, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._hosts.values()))
        self._hosts.clear()


def _consume(task: asyncio.Task[asyncssh.SSHClientConnection]) -> None:
    """A background reconnect nobody awaited must not log "exception never retrieved"."""
    if not task.cancelled():
        task.exception()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)
