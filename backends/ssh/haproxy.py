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
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import asyncssh

from backends.errors import BackendError, OperationFailed, Unreachable
from backends.ssh.connections import HostConnection

PROMPT = b"\n> "
MAX_WEIGHT = 256


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


def parse_stat(text: str) -> dict[str, ServerStat]:
    """Server rows of a ``show stat`` CSV, by server name."""
    lines = text.lstrip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"not a show stat answer: {text[:80]!r}")
    lines[0] = lines[0][2:]
    servers = {}
    for row in csv.DictReader(line for line in lines if line.strip()):
        name = row.get("svname") or ""
        if name in ("FRONTEND", "BACKEND", ""):
            continue
        servers[name] = ServerStat(
            name=name,
            status=row.get("status") or "",
            weight=_int(row.get("weight")) or 0,
            sessions=_int(row.get("scur")) or 0,
            check_status=(row.get("check_status") or "").strip("* "),
            check_code=row.get("check_code") or "",
            check_ms=_float(row.get("check_duration")),
            check_desc=row.get("last_chk") or "",
            since_change=_int(row.get("lastchg")),
        )
    return servers


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    number = _int(value)
    return float(number) if number is not None else None


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
