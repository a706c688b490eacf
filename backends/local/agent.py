"""The local agent: one detached process per state dir that supervises instances, checks
their health, runs each fleet's proxy and answers Molt over ``agent.sock`` (mode 0600).

Started on demand by :mod:`backends.local.driver`; ``kill -9`` loses nothing — the next
agent re-adopts running instances from the store. Run as
``python -m backends.local.agent STATE_DIR`` (the client boots it on its own code tree).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import logging.handlers
import os
import resource
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from backends.core.errors import BackendError, NotFound, OperationFailed
from backends.core.events import OperatorAction
from backends.core.journal import JournalRecord, Outcome
from backends.core.locking import FLEET_LOCK, Lease
from backends.core.model import GenerationSpec, iso, utcnow
from backends.local import logs, rpc, streams
from backends.local.drift_watch import DriftWatch
from backends.local.heads import Heads
from backends.local.journals import Journals
from backends.local.layout import LOCK_NAME, LOG_NAME, SOCKET_NAME, check_state_dir
from backends.local.runtime import FleetRuntime
from backends.local.settings import (
    settings_differences,
    settings_from_json,
    settings_to_json,
)
from backends.local.store import Store

log = logging.getLogger("molt.agent")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class Agent:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.store = Store(state_dir / "state.db")
        self.journals = Journals(self.store, Heads(state_dir))
        self.fleets: dict[str, FleetRuntime] = {}
        self.started_at = utcnow()
        self.started_monotonic = time.monotonic()
        self.done = asyncio.Event()
        #: each fleet's watch for hand edits in its trees (file-system notifications)
        self._drift_watches: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        for name, settings, entry in self.store.fleets():
            await self._start_fleet(name, settings_from_json(settings), entry)
        path = self.state_dir / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        old_umask = os.umask(0o177)  # the socket is born 0600: only this user talks to the agent
        try:
            server = await asyncio.start_unix_server(self._serve, path, limit=rpc.LINE_LIMIT)
        finally:
            os.umask(old_umask)
        path.chmod(0o600)
        log.info("agent %d serving %s", os.getpid(), path)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.done.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        async with server:
            await self.done.wait()
        for task in self._drift_watches.values():
            task.cancel()
        for runtime in self.fleets.values():
            await runtime.close()  # the instances keep running unless rpc_stop stopped them
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log.info("agent %d exiting", os.getpid())

    async def _start_fleet(self, name: str, settings: Any, entry: str = "") -> FleetRuntime:
        runtime = FleetRuntime(name, settings, self.store, self.state_dir)
        await runtime.start(entry)
        self.fleets[name] = runtime
        if name in self._drift_watches:
            self._drift_watches[name].cancel()
        watch = DriftWatch(runtime, self._journal)
        self._drift_watches[name] = asyncio.create_task(watch.run(), name=f"drift watch {name}")
        return runtime

    def _fleet(self, params: dict[str, Any]) -> FleetRuntime:
        name = params.get("fleet", "")
        try:
            return self.fleets[name]
        except KeyError:
            raise NotFound(f"the local agent does not run a fleet named {name!r}") from None

    # connection handling ---------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await rpc.read(reader)
            if request is None:
                return
            method = str(request.get("method"))
            params = request.get("params") or {}
            if method == "watch":
                await self._watch(params, reader, writer)
                return
            if method == "follow_log":
                await self._follow_log(params, reader, writer)
                return
            if method == "hold_lock":
                await self._hold_lock(params, reader, writer)
                return
            handler: Handler | None = getattr(self, f"rpc_{method}", None)
            if handler is None:
                answer = rpc.error_message(OperationFailed(f"unknown agent method {method}"))
            else:
                try:
                    answer = {"ok": True, "result": await handler(params)}
                except BackendError as error:
                    answer = rpc.error_message(error)
                except Exception as error:
                    log.exception("agent method %s failed", method)
                    answer = rpc.error_message(
                        OperationFailed(
                            f"the local agent failed ({type(error).__name__}: {error}); "
                            f"see {self.state_dir / LOG_NAME}"
                        )
                    )
            writer.write(rpc.encode(answer))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _watch(
        self, params: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            runtime = self._fleet(params)
        except BackendError as error:
            writer.write(rpc.encode(rpc.error_message(error)))
            return
        await streams.send_events(runtime, reader, writer)

    async def _follow_log(
        self, params: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            path = self._fleet(params).log_of(str(params.get("instance", "")))
        except BackendError as error:
            writer.write(rpc.encode(rpc.error_message(error)))
            return
        await streams.send_log(path, reader, writer)

    async def _hold_lock(
        self, params: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            runtime = self._fleet(params)
            lease = Lease.from_json(params.get("lease"))
            if lease is None:
                raise OperationFailed("the local agent got a malformed lock request")
        except BackendError as error:
            writer.write(rpc.encode(rpc.error_message(error)))
            return
        await streams.hold_lock(runtime, lease, reader, writer)

    # methods ---------------------------------------------------------------------------
    async def rpc_ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}

    async def rpc_ensure_fleet(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run a fleet the agent does not run yet, with molt.toml's settings. A fleet it
        runs keeps its settings: only ``apply_settings`` changes them (a look never)."""
        name, settings = params["fleet"], params["settings"]
        runtime = self.fleets.get(name)
        if runtime is None:
            self.store.save_fleet(name, settings)
            runtime = await self._start_fleet(name, settings_from_json(settings))
        return {"entry": runtime.entry}

    async def rpc_apply_settings(self, params: dict[str, Any]) -> list[str]:
        """Make a running fleet use molt.toml's settings (``molt apply``, under the
        fleet lock): the proxy binds a new address before it lets go of the old one.
        Returns what changed; refused, with nothing changed, when it cannot."""
        runtime = self._fleet(params)
        settings = params["settings"]
        done = await runtime.apply(settings_from_json(settings))
        self.store.save_fleet(runtime.name, settings)
        return done

    async def rpc_logs(self, params: dict[str, Any]) -> list[str]:
        path = self._fleet(params).log_of(str(params.get("instance", "")))
        return await asyncio.to_thread(logs.tail, path, max(0, int(params.get("lines", 100))))

    async def rpc_lock_holder(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """Who holds the lock, unless their lease has expired (then nobody does)."""
        lease = self._fleet(params).leases.get(str(params.get("lock", FLEET_LOCK)))
        return lease.public().to_json() if lease is not None and not lease.expired else None

    async def rpc_fleet_settings(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """What the agent runs a fleet with (None: it does not run it yet)."""
        found = self.store.fleet_settings(str(params.get("fleet", "")))
        runtime = self.fleets.get(str(params.get("fleet", "")))
        if found is None:
            return None
        return {"settings": found[0], "entry": runtime.entry if runtime else found[1]}

    async def rpc_snapshot(self, params: dict[str, Any]) -> dict[str, Any]:
        """The fleet now; with ``settings`` (molt.toml's), how they differ from what
        it runs (compared, never applied)."""
        runtime = self._fleet(params)
        snapshot = runtime.snapshot().to_json()
        wanted = params.get("settings")
        if isinstance(wanted, dict):
            running = settings_to_json(runtime.settings)
            snapshot["differences"] = settings_differences(runtime.name, wanted, running)
        return snapshot

    async def rpc_launch(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = GenerationSpec(**params["spec"])
        return (await self._fleet(params).launch(spec, params.get("resume"))).to_json()

    async def rpc_set_weights(self, params: dict[str, Any]) -> None:
        await self._fleet(params).set_weights(
            {str(g): int(w) for g, w in params["weights"].items()}
        )

    async def rpc_retire(self, params: dict[str, Any]) -> None:
        await self._fleet(params).retire(params["generation"])

    async def rpc_verify(self, params: dict[str, Any]) -> dict[str, Any]:
        return (await self._fleet(params).verify(params["generation"])).to_json()

    async def rpc_frozen(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._fleet(params).frozen(str(params["generation"]))

    async def rpc_journal_write(self, params: dict[str, Any]) -> None:
        """Seal the write onto the fleet's chain and store it (one process, one writer:
        the chain cannot fork)."""
        record = JournalRecord.from_json(params["record"])
        self._journal(record)
        runtime = self.fleets.get(record.fleet)
        if runtime is not None and record.outcome is not Outcome.STARTED:
            runtime.publish(OperatorAction(fleet=record.fleet, record=record))

    async def rpc_journal_lines(self, params: dict[str, Any]) -> list[str]:
        return self.store.journal(params["fleet"])

    async def rpc_journal_after(self, params: dict[str, Any]) -> dict[str, Any]:
        """The writes after a cursor (a sequence number): what a poll reads."""
        return self.journals.after(str(params["fleet"]), str(params.get("cursor") or "0"))

    async def rpc_journal_summary(self, params: dict[str, Any]) -> dict[str, Any]:
        """What a reader needs to know where the fleet stands (kept here as writes are
        stored, so a fresh ``molt status`` reads a few hundred writes, not them all)."""
        return await self.journals.summary(str(params["fleet"]))

    async def rpc_journal_head(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The head the agent anchored (kept outside the store), or None."""
        return self.journals.head(str(params["fleet"]))

    async def rpc_status(self, params: dict[str, Any]) -> dict[str, Any]:
        fleets = []
        for runtime in self.fleets.values():
            snapshot = runtime.snapshot()
            pids = [i.pid for g in snapshot.generations for i in g.instances if i.pid]
            fleets.append(
                {
                    "name": runtime.name,
                    "entry": runtime.entry,
                    "generations": len(snapshot.generations),
                    "instances": len(pids),
                    "pids": pids,
                }
            )
        return {
            "pid": os.getpid(),
            "started_at": iso(self.started_at),
            "uptime_s": round(time.monotonic() - self.started_monotonic, 1),
            "state_dir": str(self.state_dir),
            "fleets": fleets,
        }

    async def rpc_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        """Stop every instance, then the agent itself — journaled in every fleet it runs
        (started before, the outcome after)."""
        operator = str(params.get("operator") or "unknown")
        pids = []
        for runtime in self.fleets.values():
            running = sum(len(g.instances) for g in runtime.generations.values())
            record = JournalRecord(
                fleet=runtime.name,
                action="agent stop",
                operator=operator,
                args={"instances": running},
                weights_before=runtime.snapshot().weights,
            )
            self._journal(record)
            stopped = await runtime.stop_instances()
            pids.extend(stopped)
            self._journal(record.finished(Outcome.OK, f"{len(stopped)} instances stopped"))
        asyncio.get_running_loop().call_later(0.05, self.done.set)
        return {"pid": os.getpid(), "instances": pids}

    def _journal(self, record: JournalRecord) -> None:
        line, seq = self.journals.write(record)
        runtime = self.fleets.get(record.fleet)
        if runtime is not None:
            runtime.journaled(line, seq)

def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed: the proxy runs in this loop."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _room_for_connections() -> None:
    """Raise the soft limit on open files (up to the hard one, 65,536 at most): every
    fleet's proxy may hold ``Limits.max_connections`` clients, and one agent serves all."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state_dir = Path(args[0]).resolve()
    check_state_dir(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = (state_dir / LOCK_NAME).open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another agent already serves this state dir
    # the agent's own log is bounded like an instance's: one file and the one before it
    handler = logging.handlers.RotatingFileHandler(
        state_dir / LOG_NAME, maxBytes=logs.CAP, backupCount=1
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    _room_for_connections()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(Agent(state_dir).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
