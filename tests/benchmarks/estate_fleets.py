"""The estate benchmark's fleets, on real parts: local fleets served by one agent, SSH
fleets on the rig (sshd hosts, one HAProxy per fleet), AWS fleets on a moto server in its
own process, every one with its generations launched and weighted by the real ``molt``,
and a traffic generator (its own process) hitting each fleet's entry.

Everything started here is stopped by :meth:`Fleets.stop`, by pid: the traffic
generator, the local agent and its instances (``molt agent stop --yes``), the rig's
instances, HAProxies and sshds, and moto.

Run as a script, it is the traffic generator: ``estate_fleets.py RATE URL...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backends.config.health_settings import HealthSettings  # noqa: E402
from backends.local.demo import demo_artifact  # noqa: E402
from backends.local.processes import free_port  # noqa: E402
from tests.support.local import molt, short_state_dir, stop_everything  # noqa: E402

WEIGHTS = ("g1=80", "g2=15", "g3=5")
HEALTH_EVERY = 1.0  # seconds between health checks (the default)
PORTS_PER_FLEET = 40  # each SSH fleet its own port range on the hosts


@dataclass
class Fleets:
    """The estate's fleets by backend, their molt.toml and what runs for them."""

    state_dir: Path
    local: list[str] = field(default_factory=list)
    ssh: list[str] = field(default_factory=list)
    aws: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)  # each fleet's URL, for the traffic
    notes: list[str] = field(default_factory=list)  # what differs from what was asked
    rig: object | None = None  # tests.ssh.rig.Rig (imported only when SSH fleets run)
    moto: subprocess.Popen[bytes] | None = None
    traffic: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.state_dir / "molt.toml"

    @property
    def names(self) -> list[str]:
        return [*self.local, *self.ssh, *self.aws]

    def molt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return molt(self.state_dir, *args, config=self.config, timeout=180)

    def stop(self) -> None:
        """Everything started for these fleets, by pid."""
        for process in (self.traffic, self.moto):
            if process is not None and process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
                if process.poll() is None:
                    process.kill()
                    process.wait(5)
        stop_everything(self.state_dir)  # molt agent stop --yes, then the pids it had
        if self.rig is not None:
            self.rig.stop()  # type: ignore[attr-defined]
        subprocess.run(["chmod", "-R", "u+w", str(self.state_dir)], check=False)
        shutil.rmtree(self.state_dir, ignore_errors=True)


def local_toml(name: str, listen: str) -> str:
    return (
        f'[fleets.{name}]\nlisten = "{listen}"\nartifact = "{demo_artifact()}"\n'
        f'start = "{{python}} app.py --port {{port}}"\ncount = 1\n'
        f"[fleets.{name}.health]\ninterval = {HEALTH_EVERY}\nstart_period = 10\n"
    )


def ssh_tomls(fleets: Fleets, count: int, hosts: int) -> str:
    """``count`` SSH fleets on ``hosts`` sshd hosts (the fleets spread over them), each
    behind its own HAProxy; the rig is kept in ``fleets.rig``."""
    from tests.ssh.conftest import render_config
    from tests.ssh.processes import missing_parts
    from tests.ssh.rig import Rig

    if why := missing_parts():
        fleets.notes.append(f"no SSH fleets: the rig {why}")
        return ""
    net = f"127.254.{os.getpid() % 250}"  # not the addresses of the tests' rigs
    rig = Rig.create([f"{net}.{10 + n}" for n in range(hosts)])
    fleets.rig = rig
    text = ""
    for n in range(count):
        name = f"ssh{n + 1:02d}"
        proxy = rig.haproxy(name)
        low = 21000 + n * PORTS_PER_FLEET
        settings = rig.settings(
            [rig.hosts[n % hosts].spec],
            rig.hosts[0],
            proxy,
            ports=f"{low}-{low + PORTS_PER_FLEET - 1}",
            count=1,
        )
        settings = replace(settings, health=HealthSettings(interval=HEALTH_EVERY, timeout=1.0))
        text += render_config(name, settings)
        fleets.ssh.append(name)
        fleets.entries.append(proxy.frontend)
    return text


def aws_tomls(fleets: Fleets, count: int) -> tuple[str, str]:
    """``count`` AWS fleets in one moto account (moto's server in its own process, so
    it never shares the measured process's interpreter); returns (toml, image)."""
    from tests.aws.support import FAKE_ENV, make_world, molt_toml

    os.environ.update(FAKE_ENV)  # fake credentials; every client gets a loopback endpoint
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    fleets.moto = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            world = make_world(endpoint)
            break
        except Exception:
            if time.monotonic() > deadline or fleets.moto.poll() is not None:
                raise
            time.sleep(0.2)
    text = ""
    for n in range(count):
        name = f"aws{n + 1}"
        path = fleets.state_dir / f"{name}.toml"
        text += molt_toml(world, path, name=name).read_text()
        fleets.aws.append(name)
    return text, world.image


def start(size: int, *, aws: int, hosts: int, rate: float) -> Fleets:
    """``size`` fleets, half local and half SSH (the rest local when the rig cannot
    run), plus ``aws`` on moto; three generations each (AWS: one), weighted 80/15/5,
    with ``rate`` requests a second on each fleet's entry. Stop them with
    :meth:`Fleets.stop`, even when this fails half-way."""
    fleets = Fleets(short_state_dir())
    try:
        text = ssh_tomls(fleets, size - size // 2, hosts)
        for n in range(size - len(fleets.ssh)):
            name, listen = f"local{n + 1:02d}", f"127.0.0.1:{free_port()}"
            text = local_toml(name, listen) + text
            fleets.local.append(name)
            fleets.entries.append(f"http://{listen}")
        image = ""
        if aws:
            more, image = aws_tomls(fleets, aws)
            text += more
        fleets.config.write_text(text)
        with ThreadPoolExecutor(4) as pool:
            done = list(pool.map(lambda name: launch(fleets, name, image), fleets.names))
        if failed := [why for why in done if why]:
            raise RuntimeError("; ".join(failed))
        fleets.traffic = subprocess.Popen(
            [sys.executable, __file__, str(rate), *fleets.entries],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return fleets
    except BaseException:
        fleets.stop()
        raise


def launch(fleets: Fleets, name: str, image: str) -> str:
    """Three generations, weighted 80/15/5 (an AWS fleet: one, moto's targets never
    turn healthy); "" or why it failed."""
    if name in fleets.aws:
        steps = [("launch", name, "--version", "v1", "--image", image)]
    else:
        steps = [("launch", name, "--version", f"v{n}", "--wait") for n in (1, 2, 3)]
        steps.append(("shift", name, *WEIGHTS))
    for step in steps:
        done = fleets.molt(*step)
        if done.returncode != 0:
            return f"molt {' '.join(step)}: {done.stderr.strip()[-300:]}"
    return ""


async def traffic(rate: float, urls: list[str]) -> None:
    """GET / on every URL, ``rate`` a second each, until killed."""
    import aiohttp

    async def hit(session: aiohttp.ClientSession, url: str) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as answer:
                    await answer.read()
            await asyncio.sleep(1 / rate)

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(hit(session, url) for url in urls))


if __name__ == "__main__":
    asyncio.run(traffic(float(sys.argv[1]), sys.argv[2:]))
