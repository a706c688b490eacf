"""Molt's side of the local agent's socket: one request per connection, the agent
started on demand (never by a read-only session), and the journal kept in its store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from backends.core.chain import Anchor
from backends.core.deadline import Deadline
from backends.core.errors import ConfigError, Unreachable
from backends.core.journal import Journal, JournalRecord
from backends.local import rpc
from backends.local.layout import LOG_NAME, SOCKET_NAME, check_state_dir

AGENT_START_TIMEOUT = 15.0
CALL_TIMEOUT = 60.0
SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux
#: the tree this client's code came from: the agent runs the same code, wherever it lies
CODE_ROOT = str(Path(__file__).resolve().parents[2])
#: isolated (no user site, no PYTHON* variables) but on this client's code tree
AGENT_BOOT = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('backends.local.agent', run_name='__main__', alter_sys=True)"
)
#: agent methods that change nothing, so they may be asked twice
READS = frozenset(
    {
        "ping",
        "snapshot",
        "fleet_settings",
        "journal_lines",
        "journal_after",
        "journal_summary",
        "journal_head",
        "lock_holder",
        "verify",
        "status",
        "logs",
    }
)


class AgentClient:
    """Talks to the agent of one state dir, starting it when nobody answers (unless
    ``may_start`` is off: a read-only session never starts anything)."""

    def __init__(self, state_dir: Path, *, may_start: bool = True) -> None:
        check_state_dir(state_dir)
        self.state_dir = state_dir
        self.may_start = may_start
        self.socket = state_dir / SOCKET_NAME
        if len(str(self.socket)) > SOCKET_PATH_MAX:
            raise ConfigError(
                f"state dir {state_dir} is too long for a Unix socket; "
                "set MOLT_STATE_DIR to a shorter path"
            )

    async def connect(
        self, *, start: bool | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        start = self.may_start if start is None else start
        started = False
        deadline = Deadline(AGENT_START_TIMEOUT)
        async for _ in deadline.every(0.05):
            try:
                return await asyncio.open_unix_connection(self.socket, limit=rpc.LINE_LIMIT)
            except (FileNotFoundError, ConnectionRefusedError) as error:
                if not start:
                    hint = (
                        ""
                        if self.may_start
                        else (
                            "; read-only mode does not start one (`molt status` without "
                            "--read-only does)"
                        )
                    )
                    raise Unreachable(
                        f"no local agent is running for {self.state_dir}{hint}"
                    ) from error
                if not started:
                    self._start_agent()
                    started = True
        raise Unreachable(
            f"the local agent did not start within {AGENT_START_TIMEOUT:.0f} s; "
            f"see {self.state_dir / LOG_NAME}"
        )

    def _start_agent(self) -> None:
        """Start a detached agent; if another one wins the race, this one just exits.
        Isolated (``-I``: no user site, no PYTHON* variables, not the caller's working
        directory on the path), on the client's own code tree, run from the state dir."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.state_dir / LOG_NAME).open("ab") as output:
            subprocess.Popen(
                [sys.executable, "-I", "-c", AGENT_BOOT, CODE_ROOT, str(self.state_dir)],
                cwd=self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )

    async def call(
        self,
        method: str,
        *,
        start: bool | None = None,
        timeout: float = CALL_TIMEOUT,
        **params: Any,
    ) -> Any:
        """One request. A read that loses an agent which just died is asked again (of
        the agent that replaces it); a write is never sent twice."""
        try:
            return await self._call_once(method, start, timeout, params)
        except Unreachable:
            if method not in READS:
                raise
            return await self._call_once(method, start, timeout, params)

    async def _call_once(
        self, method: str, start: bool | None, timeout: float, params: dict[str, Any]
    ) -> Any:
        reader, writer = await self.connect(start=start)
        try:
            writer.write(rpc.encode({"method": method, "params": params}))
            await writer.drain()
            try:
                answer = await asyncio.wait_for(rpc.read(reader), timeout)
            except TimeoutError:
                raise Unreachable(
                    f"the local agent did not answer {method} within {timeout:.0f} s"
                ) from None
        except ConnectionError as error:
            raise Unreachable(f"lost the local agent during {method}: {error}") from error
        finally:
            writer.close()
        if answer is None:
            raise Unreachable(f"the local agent closed the connection during {method}")
        if not answer.get("ok"):
            rpc.raise_error(answer)
        return answer.get("result")


class LocalJournal(Journal):
    """The journal lives in the agent's SQLite store; writes also reach watchers. The
    agent anchors its head outside the store (:mod:`backends.local.heads`)."""

    anchored_at = "the local agent"

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def write(self, record: JournalRecord) -> None:
        await self.client.call("journal_write", record=record.to_json())

    async def lines(self, fleet: str) -> list[str]:
        lines: list[str] = await self.client.call("journal_lines", fleet=fleet)
        return lines

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        answer = await self.client.call("journal_after", fleet=fleet, cursor=cursor)
        return list(answer["lines"]), str(answer["cursor"])

    async def summary(self, fleet: str) -> tuple[list[str], str]:
        lines, cursor, _ = await self.summary_state(fleet)
        return lines, cursor

    async def summary_state(self, fleet: str) -> tuple[list[str], str, dict[str, Any] | None]:
        """The writes the agent's view kept (not a chain), with what it found of them."""
        answer = await self.client.call("journal_summary", fleet=fleet)
        state = answer.get("chain")  # an agent that did not say: the reader checks
        lines = list(answer["lines"])
        return lines, str(answer["cursor"]), state if isinstance(state, dict) else None

    async def anchor(self, fleet: str) -> Anchor | None:
        return Anchor.from_json(await self.client.call("journal_head", fleet=fleet))
