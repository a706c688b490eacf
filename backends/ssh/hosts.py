"""Work on the instance hosts: sweep, upload, start, stop, remove, hash — each host
at once, each through its kept connection, a failed host reported by name."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from backends.core.deadline import Deadline
from backends.core.errors import BackendError, OperationFailed
from backends.core.manifest import MANIFEST_NAME, compare
from backends.core.model import FileChange, FileDrift
from backends.core.proofs import LaunchProof, manifest_drift
from backends.ssh import remote
from backends.ssh.connections import HostConnection, HostPool
from backends.ssh.health import HostView
from backends.ssh.settings import LOG_SIZE, HostAddress
from backends.ssh.state import GenerationRecord, InstanceRecord

UPLOAD_TIMEOUT = 600.0
START_GRACE = 10.0  # seconds an instance may take to open its port before it is checked
HASH_TIMEOUT = 600.0
STOP_TIMEOUT = remote.STOP_GRACE + 30.0


@dataclass(frozen=True, slots=True)
class Deployed:
    """What a host reported after a generation was put on it."""

    pids: dict[str, int]


class Hosts:
    """The fleet's hosts as one: every call fans out and returns per-host results."""

    def __init__(self, pool: HostPool, fleet: str, fleet_dir: str, timeout: float) -> None:
        self.pool = pool
        self.fleet = fleet
        self.fleet_dir = fleet_dir
        self.timeout = timeout

    def generation_dir(self, generation: str) -> str:
        return posixpath.join(self.fleet_dir, generation)

    async def sweep(self, hosts: Iterable[HostAddress]) -> dict[HostAddress, HostView]:
        """Which instance processes run, on every host: one ``sh`` per host."""
        script = remote.probe_script(self.fleet_dir)

        async def probe(conn: HostConnection) -> HostView:
            done = await conn.run(script, timeout=self.timeout, patient=False)
            if not done.ok:
                raise OperationFailed(f"{conn.name}: probe failed: {done.reason()}")
            return HostView(remote.parse_probe(done.stdout))

        views = {}
        for host, result in (await self.pool.each(hosts, probe)).items():
            views[host] = result if isinstance(result, HostView) else HostView({}, result)
        return views

    async def ports_in_use(
        self, hosts: Iterable[HostAddress]
    ) -> dict[HostAddress, set[int] | BackendError]:
        async def read(conn: HostConnection) -> set[int]:
            done = await conn.run(remote.LISTENING_SCRIPT, timeout=self.timeout)
            return remote.parse_listening(done.stdout, conn.host.address)

        return await self.pool.each(hosts, read)

    async def deploy(
        self,
        host: HostAddress,
        generation: GenerationRecord,
        instances: Sequence[InstanceRecord],
        artifact: Path,
        manifest: dict[str, str],
        start: str,
        *,
        resume: bool = False,
        log_size: int = LOG_SIZE,
    ) -> Deployed:
        """Upload the artifact once, write its manifest, seal it, start the instances.
        ``resume``: a launch cut short — a tree whose manifest was written is complete
        and stays (sealed again), a partial one is removed and uploaded again, and only
        instances that are not running are started."""
        conn = self.pool[host]
        home = self.generation_dir(generation.id)
        about = {
            "fleet": self.fleet,
            "generation": generation.id,
            "version": generation.version,
            "launched_at": generation.launched_at,
            "launched_by": generation.launched_by,
            "note": generation.note,
            "digest": generation.digest,
        }

        async def upload(sftp: asyncssh.SFTPClient) -> None:
            await sftp.makedirs(home, exist_ok=True)
            if await sftp.exists(posixpath.join(home, "tree")):
                raise OperationFailed(f"{conn.name}: {home}/tree exists already")
            await sftp.put(
                str(artifact),
                posixpath.join(home, "tree"),
                recurse=True,
                preserve=True,
                follow_symlinks=False,  # links go up as links, as the manifest says
            )
            for name, data in ((MANIFEST_NAME, manifest), ("generation.json", about)):
                async with sftp.open(posixpath.join(home, name), "w") as handle:
                    await handle.write(json.dumps(data, indent=1, sort_keys=True) + "\n")

        async def uploaded(sftp: asyncssh.SFTPClient) -> bool:
            try:
                async with sftp.open(posixpath.join(home, MANIFEST_NAME), "r") as handle:
                    return bool(json.loads(await handle.read()) == manifest)
            except (asyncssh.SFTPNoSuchFile, ValueError):
                return False

        complete = resume and await conn.with_sftp(
            uploaded, timeout=UPLOAD_TIMEOUT, what=f"reading {home}/{MANIFEST_NAME}"
        )
        if resume and complete:
            probe = await conn.run(remote.probe_script(self.fleet_dir), timeout=self.timeout)
            alive = remote.parse_probe(probe.stdout)
            instances = [i for i in instances if not (i.id in alive and alive[i.id].running)]
        else:
            if resume:  # a partial upload: start the tree again
                await conn.run(remote.remove_script(home), timeout=UPLOAD_TIMEOUT)
            await conn.with_sftp(upload, timeout=UPLOAD_TIMEOUT, what=f"uploading {artifact}")
        sealed = await conn.run(remote.seal_script(home), timeout=UPLOAD_TIMEOUT)
        if not sealed.ok:
            raise OperationFailed(f"{conn.name}: cannot seal {home}: {sealed.reason()}")
        env = {
            "MOLT_FLEET": self.fleet,
            "MOLT_GENERATION": generation.id,
            "MOLT_VERSION": generation.version,
        }
        if not instances:
            return Deployed({})
        script = remote.start_script(
            home, start, [(i.id, i.port, i.address) for i in instances], env, log_size
        )
        started = await conn.run(script, timeout=self.timeout * 3)
        pids = remote.parse_started(started.stdout)
        if not started.ok or len(pids) != len(instances):
            raise OperationFailed(f"{conn.name}: cannot start instances: {started.reason()}")
        await self._until_listening(conn, instances)
        return Deployed(pids)

    async def _until_listening(
        self, conn: HostConnection, instances: Sequence[InstanceRecord]
    ) -> None:
        """Give the instances a moment to open their ports before HAProxy checks them
        (HAProxy takes a new server down at its first failed check): until each listens
        or its process is gone, at most ``START_GRACE`` seconds."""
        script = f"{remote.LISTENING_SCRIPT}; echo '{remote.HASHES_MARK}'; " + (
            remote.probe_script(self.fleet_dir)
        )
        waiting = {i.id: i.port for i in instances}
        async for _ in Deadline(START_GRACE).every(0.1):
            done = await conn.run(script, timeout=self.timeout)
            ports, _, probe = done.stdout.partition(remote.HASHES_MARK)
            listening = remote.parse_listening(ports, conn.host.address)
            alive = remote.parse_probe(probe)
            waiting = {
                i: port
                for i, port in waiting.items()
                if port not in listening and (i not in alive or alive[i].running)
            }
            if not waiting:
                return

    async def destroy(
        self, generation: str, hosts: Iterable[HostAddress]
    ) -> dict[HostAddress, None | BackendError]:
        """Stop the generation's processes (by pid file) and remove its directory."""
        home = self.generation_dir(generation)

        async def destroy(conn: HostConnection) -> None:
            stopped = await conn.run(remote.stop_script(home), timeout=STOP_TIMEOUT)
            removed = await conn.run(remote.remove_script(home), timeout=UPLOAD_TIMEOUT)
            for done in (stopped, removed):
                if not done.ok:
                    raise OperationFailed(f"{conn.name}: cannot remove {home}: {done.reason()}")

        return await self.pool.each(hosts, destroy)

    async def drift(
        self, generation: GenerationRecord, label: dict[HostAddress, str], proof: LaunchProof
    ) -> tuple[list[str], list[FileDrift], list[str]]:
        """(hosts checked, drift, hosts unreachable) of one generation's trees; each
        host's manifest is held against the digest journaled at launch (``proof``)."""
        home = self.generation_dir(generation.id)
        hosts = [HostAddress.parse(h) for h in generation.hosts]

        async def hashes(conn: HostConnection) -> list[FileDrift]:
            done = await conn.run(remote.tree_script(home), timeout=HASH_TIMEOUT)
            name = label.get(conn.host, conn.name)
            if done.status in (3, 4):
                return [FileDrift(name, f"{generation.id}/", FileChange.REMOVED)]
            head, _, rest = done.stdout.partition(remote.HASHES_MARK)
            listing, _, sums = rest.partition(remote.TREE_MARK)
            try:
                expected = json.loads(head)
            except ValueError:
                expected = None
            found = manifest_drift(
                name, expected, proof.journaled, generation.digest, doubtful=proof.doubtful
            )
            if not isinstance(expected, dict):
                return found
            actual = remote.parse_tree(listing, sums)
            return found + [
                FileDrift(name, path, change) for path, change in compare(expected, actual)
            ]

        checked, drift, unreachable = [], [], []
        for host, result in (await self.pool.each(hosts, hashes)).items():
            if isinstance(result, BackendError):
                unreachable.append(label.get(host, host.display))
            else:
                checked.append(label.get(host, host.display))
                drift.extend(result)
        return checked, drift, unreachable
