"""HAProxy's runtime API on the LB host, reached through the kept SSH connection.

Commands go to the admin socket over a ``direct-streamlocal`` channel (no tool needed
on the LB host); where sshd forbids stream forwarding, through ``socat`` on the host.
A batch of commands shares one stream in HAProxy's ``prompt`` mode, so a sweep of the
whole backend is one ``show stat``, whatever the number of servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncssh

from backends.core.errors import BackendError, OperationFailed, Refused, Unreachable, shown
from backends.ssh import validation
from backends.ssh.connections import HostConnection

PROMPT = b"\n> "
MAX_WEIGHT = 256
#: the names HAProxy gives servers (and all a runtime API command line may carry)
SERVER_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
#: a ``show stat`` duration beyond a century is junk, not an uptime
MAX_SECONDS = 100 * 365 * 86400
MAX_FIELD = 500
RESPONSE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
RESPONSE_FIELDS = tuple(f"hrsp_{c}" for c in RESPONSE_CLASSES)
#: requests a server got but never answered: no connection (econ), no response (eresp)
FAILURE_FIELDS = ("econ", "eresp")


@dataclass(frozen=True, slots=True)
class ServerStat:
    """One server's row of ``show stat``."""

    name: str
    status: str  # UP, UP 1/2, DOWN, DOWN 1/2, MAINT, DRAIN, NOLB, no check...
    weight: int
    sessions: int  # scur: current sessions
    check_status: str  # INI, L4OK, L7OK, L4CON, L7STS, L4TOUT...
    check_code: str
    check_ms: float | None
    check_desc: str
    since_change: int | None  # lastchg: seconds since the last UP/DOWN change
    #: what real requests saw, as HAProxy counts them (totals since the server was added)
    #: hrsp_1xx … hrsp_5xx and hrsp_other, plus econ and eresp: every request sent its
    #: way, answered or not (a request whose connection failed has no response class,
    #: and leaving it out would show 0% errors when every connection failed)
    responses: int = 0
    errors: int = 0  # hrsp_5xx, plus econ and eresp: requests it could not deliver
    rate: int | None = None  # sessions in the last second
    rtime_ms: float | None = None  # average response time over the last 1024 requests
    rtime_max_ms: float | None = None


def parse_stat(text: str) -> dict[str, ServerStat]:
    """Server rows of a ``show stat`` CSV, by server name.

    Whatever the answer holds, what comes back is safe to use: a row whose server name
    HAProxy could not have given is skipped; numbers are whole, not negative and within
    reason (else ``None``, or 0 for weight and sessions); text fields are one printable
    line each.

    Raises:
        ValueError: the text is not a ``show stat`` answer at all.
    """
    lines = text.lstrip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"not a show stat answer: {text[:80]!r}")
    lines[0] = lines[0][2:]
    servers = {}
    try:
        for row in csv.DictReader(line for line in lines if line.strip()):
            stat = _server(row)
            if stat is not None:
                servers[stat.name] = stat
    except csv.Error as error:
        raise ValueError(f"not a show stat answer: {error}") from error
    return servers


def _server(row: dict[Any, Any]) -> ServerStat | None:
    """One row as a :class:`ServerStat`; ``None`` for FRONTEND, BACKEND and junk."""
    name = _text(row.get("svname"))
    if name in ("FRONTEND", "BACKEND") or not SERVER_NAME.fullmatch(name):
        return None
    weight = _count(row.get("weight"))
    return ServerStat(
        name=name,
        status=_text(row.get("status")),
        weight=weight if weight is not None and weight <= MAX_WEIGHT else 0,
        sessions=_count(row.get("scur")) or 0,
        check_status=_text(row.get("check_status")).strip("* "),
        check_code=_text(row.get("check_code")),
        check_ms=_milliseconds(row.get("check_duration")),
        check_desc=_text(row.get("last_chk")),
        since_change=_seconds(row.get("lastchg")),
        responses=sum(_count(row.get(f)) or 0 for f in (*RESPONSE_FIELDS, *FAILURE_FIELDS)),
        errors=sum(_count(row.get(f)) or 0 for f in ("hrsp_5xx", *FAILURE_FIELDS)),
        rate=_count(row.get("rate")),
        rtime_ms=_milliseconds(row.get("rtime")),
        rtime_max_ms=_milliseconds(row.get("rtime_max")),
    )


def _text(value: object) -> str:
    """A field as one printable line (a missing column reads as ``None``, surplus ones
    as a list)."""
    return shown(value)[:MAX_FIELD] if isinstance(value, str) else ""


def _count(value: object) -> int | None:
    """A whole number HAProxy wrote (ASCII digits, at most 18 of them), else ``None``."""
    if not isinstance(value, str):
        return None
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
        return None
    return int(digits)


def _seconds(value: object) -> int | None:
    number = _count(value)
    return number if number is not None and number <= MAX_SECONDS else None


def _milliseconds(value: object) -> float | None:
    number = _count(value)
    return float(number) if number is not None and number <= MAX_SECONDS * 1000 else None


def _accepted(command: str, answer: str) -> bool:
    """Whether HAProxy's answer to ``command`` means it was done."""
    text = answer.strip()
    if command.startswith("add server"):
        return "New server registered" in text
    if command.startswith("del server"):
        return "Server deleted" in text
    if command.startswith("show stat"):
        return text.startswith("# ")
    if command.startswith("show"):
        return True
    return text == ""


class Haproxy:
    """The runtime API of the HAProxy that carries one fleet's traffic."""

    def __init__(self, lb: HostConnection, socket: str, backend: str, *, timeout: float) -> None:
        self.lb = lb
        self.socket = socket
        self.backend = backend
        self.timeout = timeout
        self._via_socat = False

    def server(self, name: str) -> str:
        return f"{self.backend}/{name}"

    async def batch(self, commands: Sequence[str], *, check: bool = True) -> list[str]:
        """Answers to ``commands``, sent over one stream. With ``check``, the first
        refused command raises :class:`OperationFailed` naming it."""
        if not commands:
            return []
        for command in commands:
            try:
                validation.command(command)
            except ValueError as error:
                raise Refused(f"not sent to HAProxy on {self.lb.name}: {error}") from None
        payload = ("prompt\n" + "".join(c + "\n" for c in commands) + "quit\n").encode()
        if self._via_socat:
            raw = await self._over_socat(payload, commands[0])
        else:
            try:
                raw = await self._over_stream(payload, len(commands) + 1)
            except asyncssh.ChannelOpenError as error:
                # sshd says "open failed" whether forwarding is off or the socket is not
                # there: try socat on the host, which tells the two apart
                raw = await self._over_socat(payload, commands[0], error.reason)
                self._via_socat = True
        frames = raw.decode(errors="replace").split(PROMPT.decode())
        answers = frames[1 : len(commands) + 1]
        if len(answers) < len(commands):
            failed = commands[len(answers)]
            raise OperationFailed(
                f"HAProxy on {self.lb.name} closed the admin socket at `{failed}`"
            )
        if check:
            for command, answer in zip(commands, answers, strict=True):
                if not _accepted(command, answer):
                    raise OperationFailed(
                        f"HAProxy on {self.lb.name} refused `{command}`: "
                        f"{answer.strip() or 'no answer'}"
                    )
        return answers

    async def _over_stream(self, payload: bytes, prompts: int) -> bytes:
        reader, writer = await self.lb.open_unix(self.socket, self.timeout)
        try:
            writer.write(payload)
            received = b""
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout
            while received.count(PROMPT) < prompts:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError
                chunk = await asyncio.wait_for(reader.read(65536), left)
                if not chunk:
                    break
                received += chunk
            return received
        except TimeoutError:
            raise Unreachable(
                f"HAProxy on {self.lb.name} did not answer within {self.timeout:g} s"
            ) from None
        except (asyncssh.Error, OSError) as error:
            raise Unreachable(f"lost HAProxy's admin socket on {self.lb.name}: {error}") from error
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _over_socat(self, payload: bytes, command: str, stream_error: str = "") -> bytes:
        done = await self.lb.run(
            f"socat -t 2 - UNIX-CONNECT:{shlex.quote(self.socket)}",
            stdin=payload.decode(),
            timeout=self.timeout,
        )
        if not done.ok:
            how = f"forwarding: {stream_error}; socat: " if stream_error else ""
            raise OperationFailed(
                f"HAProxy admin socket {self.socket} on {self.lb.name}: {how}{done.reason()} "
                f"(while sending `{command}`)"
            )
        return done.stdout.encode()

    # reading ----------------------------------------------------------------------------
    async def servers(self) -> dict[str, ServerStat]:
        """Every server of the backend: one ``show stat``."""
        command = f"show stat {self.backend} 4 -1"
        (answer,) = await self.batch([command], check=False)
        if answer.strip().startswith("# "):
            return parse_stat(answer)
        raise OperationFailed(f"HAProxy on {self.lb.name} refused `{command}`: {answer.strip()}")

    # acting -----------------------------------------------------------------------------
    def add_commands(
        self, name: str, address: str, *, inter_ms: int, rise: int, fall: int, weight: int
    ) -> list[str]:
        """Add a server, start its checks, put it in service (at ``weight``)."""
        server = self.server(name)
        return [
            f"add server {server} {address} weight {weight} check "
            f"inter {inter_ms} rise {rise} fall {fall}",
            f"enable health {server}",
            f"set server {server} state ready",
        ]

    async def set_weights(self, weights: dict[str, int]) -> None:
        await self.batch(
            [f"set server {self.server(n)} weight {w}" for n, w in sorted(weights.items())]
        )

    async def remove(self, names: Sequence[str]) -> list[str]:
        """``state maint`` then ``del server`` for each; names HAProxy would not delete
        yet (connections still attached) are returned."""
        if not names:
            return []
        await self.batch([f"set server {self.server(n)} state maint" for n in names], check=False)
        commands = [f"del server {self.server(n)}" for n in names]
        answers = await self.batch(commands, check=False)
        left = []
        for name, command, answer in zip(names, commands, answers, strict=True):
            if "Server deleted" in answer or "No such server" in answer:
                continue
            if "connection" in answer.lower() or "queue" in answer.lower():
                left.append(name)
                continue
            raise OperationFailed(
                f"HAProxy on {self.lb.name} refused `{command}`: {answer.strip()}"
            )
        return left


def server_weights(shares: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Each generation's per-server HAProxy weight, from ``{generation: (percent,
    servers)}``: scaled so the busiest server gets the most resolution HAProxy allows
    (1–256), with every generation's servers summing to its percent of the whole."""
    live = {g: (p, n) for g, (p, n) in shares.items() if p > 0 and n > 0}
    if not live:
        return {g: 0 for g in shares}
    scale = min(MAX_WEIGHT * n / p for p, n in live.values())
    weights = {g: 0 for g in shares}
    for generation, (percent, servers) in live.items():
        weights[generation] = max(1, min(MAX_WEIGHT, round(percent * scale / servers)))
    return weights


def is_missing(error: BackendError) -> bool:
    return "No such server" in error.message
