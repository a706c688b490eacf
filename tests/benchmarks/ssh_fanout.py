"""Health sweep over many SSH hosts: Molt (cold and warm) against Ansible ad-hoc.

Starts 100 real ``sshd`` hosts on 127.0.0.100–199 and one HAProxy, then for 20, 50 and
100 hosts times:

- Molt cold: a fresh backend's first read of the fleet (handshakes included): the
  desired state and ``show stat`` from the LB host, the process probe on every host;
- Molt warm: the same read again over the kept-open connections (median of 5);
- Ansible: ``ansible all -m raw -a PROBE --forks N`` on the same hosts with the same
  probe, first run and a repeat (which reuses its ControlPersist sockets).

Run as root: ``.venv/bin/python tests/benchmarks/ssh_fanout.py``. Installs
``ansible-core`` into the running venv if it is missing (not a Molt dependency).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from backends.ssh import remote  # noqa: E402
from backends.ssh.driver import SshBackend  # noqa: E402
from tests.ssh.rig import Rig  # noqa: E402

SIZES = (20, 50, 100)
ADDRESSES = [f"127.0.0.{n}" for n in range(100, 200)]
WARM_RUNS = 5


def ansible_bin() -> Path:
    binary = Path(sys.executable).with_name("ansible")
    if not binary.exists():
        print("installing ansible-core into this venv (for the comparison only)…", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "ansible-core"], check=True
        )
    return binary


async def molt_sweeps(rig: Rig, hosts: int, proxy_name: str) -> tuple[float, float]:
    proxy = next(p for p in rig.haproxies if p.name == proxy_name)
    settings = rig.settings(
        [h.spec for h in rig.hosts[:hosts]], rig.hosts[0], proxy, connect_timeout=10.0
    )
    backend = SshBackend(rig.fleet(proxy_name, settings), Path(tempfile.gettempdir()))
    try:
        started = time.perf_counter()
        reading = await backend.read()
        cold = time.perf_counter() - started
        assert not reading.host_failures, reading.host_failures
        warm = []
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            reading = await backend.read()
            warm.append(time.perf_counter() - started)
            assert not reading.host_failures, reading.host_failures
        return cold, statistics.median(warm)
    finally:
        await backend.close()


def ansible_sweep(rig: Rig, hosts: int, ansible: Path, workdir: Path) -> float:
    inventory = workdir / f"inventory-{hosts}.ini"
    options = (
        f"-o UserKnownHostsFile={rig.known_hosts} -o StrictHostKeyChecking=yes "
        "-o GlobalKnownHostsFile=/dev/null"
    )
    inventory.write_text(
        "[fleet]\n"
        + "".join(
            f"h{h.address.rsplit('.', 1)[1]} ansible_host={h.address} ansible_port={h.port}\n"
            for h in rig.hosts[:hosts]
        )
        + "[fleet:vars]\n"
        + f"ansible_user=molt-deploy\nansible_ssh_private_key_file={rig.identity}\n"
        + f"ansible_ssh_common_args='{options}'\n"
    )
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(workdir / "cp"),
        "ANSIBLE_STDOUT_CALLBACK": "minimal",
    }
    command = [
        str(ansible),
        "fleet",
        "-i",
        str(inventory),
        "-m",
        "raw",
        "-a",
        remote.probe_script("/srv/molt/bench"),
        "--forks",
        str(hosts),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"ansible failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    return elapsed


def stop_ansible_masters(workdir: Path) -> None:
    """Ansible leaves ControlPersist ``ssh`` masters behind; stop the ones this run made
    (their command line names our control path dir), by pid."""
    marker = str(workdir / "cp").encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGTERM)
        except (OSError, ProcessLookupError):
            continue


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: the benchmark starts sshd hosts", file=sys.stderr)
        return 2
    ansible = ansible_bin()
    print(f"starting {len(ADDRESSES)} sshd hosts…", flush=True)
    rig = Rig.create(ADDRESSES)
    workdir = Path(tempfile.mkdtemp(prefix="molt-bench-"))
    try:
        rig.haproxy("bench")
        rows = []
        for hosts in SIZES:
            cold, warm = asyncio.run(molt_sweeps(rig, hosts, "bench"))
            first = ansible_sweep(rig, hosts, ansible, workdir)
            repeat = ansible_sweep(rig, hosts, ansible, workdir)
            rows.append((hosts, cold, warm, first, repeat))
            print(f"  {hosts} hosts done", flush=True)
    finally:
        stop_ansible_masters(workdir)
        rig.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        "| hosts | Molt cold | Molt warm | Ansible (first) | Ansible (repeat) | "
        "Ansible repeat ÷ Molt warm |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for hosts, cold, warm, first, repeat in rows:
        print(
            f"| {hosts} | {cold * 1000:.0f} ms | {warm * 1000:.0f} ms | {first:.2f} s | "
            f"{repeat:.2f} s | {repeat / warm:.0f}× |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
