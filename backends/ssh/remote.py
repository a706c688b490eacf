"""What Molt runs on a host, as ``/bin/sh`` scripts (dash builtins where it counts),
and how their answers are read.

A generation's directory on a host: ``<base_dir>/<fleet>/<gen>/`` holding ``tree/``
(the artifact, read-only), ``manifest.json`` (sha256 per file), ``generation.json``,
``run/<instance>.pid`` and ``logs/<instance>.log``. An instance runs in its own
session (``setsid``), with ``tree/`` as its working directory: a process is only
taken for an instance when its pid file names it *and* it still runs in that tree,
so a recycled pid is never mistaken for one, nor signalled.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backends.config.templates import render

STOP_GRACE = 5.0
#: Linux's largest pid (``/proc/sys/kernel/pid_max`` on 64-bit)
MAX_PID = 4194304


@dataclass(frozen=True, slots=True)
class Liveness:
    """An instance's process as its host sees it."""

    instance: str
    pid: int | None
    running: bool


#: ``pid_ok "$x"``: whether ``$x`` is a process id and nothing else (digits, no leading
#: zero, at most 7 of them, not 0 or 1): a pid file any process of the deploy user can
#: write must never become ``kill -1`` or a second ``test`` expression
PID_OK = """pid_ok() {
  case "$1" in ''|0*|*[!0-9]*) return 1;; esac
  [ "${#1}" -le 7 ] && [ "$1" -gt 1 ]
}"""
#: what an instance id may hold, as a ``case`` pattern of what it may not
_NOT_ID = "*[!]A-Za-z0-9_.:%[-]*"


def probe_script(fleet_dir: str) -> str:
    """One line per instance of the fleet on this host: ``<id> <pid> up|down`` (``-``
    for a pid file that holds no pid). Only shell builtins, so a sweep costs the host
    one ``sh``. Pid files holding anything but a pid, and files named unlike an
    instance, are taken as nothing (they cannot make a line of their own)."""
    return f"""cd {shlex.quote(fleet_dir)} 2>/dev/null || exit 0
{PID_OK}
for f in g*/run/*.pid; do
  [ -f "$f" ] || continue
  g="${{f%%/*}}"; i="${{f##*/}}"; i="${{i%.pid}}"
  case "$i" in ''|{_NOT_ID}) continue;; esac
  pid=; read -r pid < "$f"
  if pid_ok "$pid"; then
    if [ "/proc/$pid/cwd" -ef "$g/tree" ]; then echo "$i $pid up"; else echo "$i $pid down"; fi
  else echo "$i - down"; fi
done"""


def parse_probe(text: str) -> dict[str, Liveness]:
    """:func:`probe_script`'s lines → each instance's liveness; other lines are skipped."""
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in ("up", "down"):
            pid = _pid(parts[1])
            found[parts[0]] = Liveness(parts[0], pid, parts[2] == "up" and pid is not None)
        elif len(parts) == 2 and parts[1] == "down":  # an empty pid file
            found[parts[0]] = Liveness(parts[0], None, False)
    return found


def _pid(text: str) -> int | None:
    """A process id as ``sh`` prints one (ASCII digits, at most 4194304 on Linux)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 7):
        return None
    pid = int(text)
    return pid if 0 < pid <= MAX_PID else None


LISTENING_SCRIPT = "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null"


def parse_listening(text: str, address: str) -> set[int]:
    """Ports in use for ``address`` (on it, on any IPv4 address, or on IPv6), from
    /proc/net/tcp{,6}; lines that are not a listening socket are skipped."""
    ports = set()
    wanted = _hex_ipv4(address)
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A" or ":" not in fields[1]:
            continue  # header, or not LISTEN
        local, _, port = fields[1].rpartition(":")
        number = _hex_port(port)
        if number is not None and (len(local) != 8 or local in ("00000000", wanted)):
            ports.add(number)
    return ports


def _hex_port(text: str) -> int | None:
    """``1F90`` → 8080: a port as /proc/net/tcp writes it (four hex digits)."""
    if len(text) != 4 or not all(c in string.hexdigits for c in text):
        return None
    return int(text, 16)


def _hex_ipv4(address: str) -> str:
    """``127.0.0.10`` as /proc/net/tcp writes it (little-endian hex)."""
    parts = address.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
        return ""
    return "".join(f"{int(p):02X}" for p in reversed(parts))


def seal_script(generation_dir: str) -> str:
    """After the upload: drop every write bit of the tree; make run/ and logs/."""
    g = shlex.quote(generation_dir)
    return f"cd {g} && mkdir -p run logs && chmod -R a-w tree"


#: what an instance's output goes through, run in its own session as
#: ``sh -c "$LOGGED" molt START``: the start command, its stdout and stderr piped to a
#: writer that stamps each line (UTC), splits lines longer than ``LINE_MAX`` bytes,
#: and keeps ``$MOLT_LOG`` and one rotated ``$MOLT_LOG.1`` under ``$MOLT_LOG_SIZE`` bytes
#: together — line by line, never reading a file back, never dropping a line (mawk
#: reads a pipe a block at a time unless told ``-W interactive``). The writer ignores
#: SIGTERM: it ends when the instance's output does, so what an instance prints while
#: it stops is kept too. A host without ``awk`` gets the output as it was (uncapped)
#: rather than an instance killed by a broken pipe.
LINE_MAX = 16384
LOG_WRITER = r"""BEGIN { f = ENVIRON["MOLT_LOG"]; half = int(cap / 2); size = 0 }
{
  line = strftime("%Y-%m-%dT%H:%M:%SZ ", systime()) $0
  if (size > 0 && size + length(line) + 1 > half) {
    close(f); system("mv -f \"$MOLT_LOG\" \"$MOLT_LOG.1\""); size = 0
  }
  print line > f; fflush(f); size += length(line) + 1
}"""
LOGGED = f"""W={shlex.quote(LOG_WRITER)}
if awk -W interactive 'BEGIN {{ }}' </dev/null >/dev/null 2>&1; then
  stamp() {{ LC_ALL=C TZ=UTC0 awk -W interactive -v cap="$MOLT_LOG_SIZE" "$W"; }}
elif command -v awk >/dev/null 2>&1; then
  stamp() {{ LC_ALL=C TZ=UTC0 awk -v cap="$MOLT_LOG_SIZE" "$W"; }}
else stamp() {{ cat >"$MOLT_LOG"; }}; fi
sh -c "$1" 2>&1 </dev/null | (
  trap '' TERM INT HUP
  if command -v stdbuf >/dev/null 2>&1; then stdbuf -oL fold -b -w {LINE_MAX}; else cat; fi |
  stamp
)"""


def start_script(
    generation_dir: str,
    start: str,
    instances: Iterable[tuple[str, int, str]],
    env: Mapping[str, str],
    log_size: int = 8 * 1024 * 1024,
) -> str:
    """Start each ``(instance id, port, address)`` detached in its own session, write its
    pid file, print ``<id> <pid>``. Its output goes to ``logs/<id>.log`` through
    :data:`LOGGED`, at most ``log_size`` bytes with the rotated ``logs/<id>.log.1``."""
    g = shlex.quote(generation_dir)
    lines = [f"G={g}", 'cd "$G/tree" || exit 1', 'mkdir -p "$G/run" "$G/logs" || exit 1']
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    lines.append(f"LOGGED={shlex.quote(LOGGED)}")
    for instance, port, address in instances:
        command = render(start, port=port, address=address)
        i = shlex.quote(instance)
        lines.append(
            f'MOLT_INSTANCE={i} PORT={port} MOLT_LOG="$G/logs/"{i}.log '
            f"MOLT_LOG_SIZE={int(log_size)} "
            f'setsid sh -c "$LOGGED" molt {shlex.quote(command)} >/dev/null 2>&1 </dev/null &'
        )
        lines.append(f'echo $! >"$G/run/"{i}.pid; echo {i} $!')
    return "\n".join(lines)


def log_script(path: str, lines: int) -> str:
    """The last ``lines`` lines an instance printed: from its log, and from the rotated
    one before it when the log holds fewer (``tail`` reads from the end: never a whole
    file)."""
    f = shlex.quote(path)
    n = max(0, int(lines))
    return f"{{ tail -n {n} {f}.1 2>/dev/null; tail -n {n} {f} 2>/dev/null; }} | tail -n {n}"


def parse_started(text: str) -> dict[str, int]:
    """:func:`start_script`'s ``<id> <pid>`` lines; other lines are skipped."""
    started = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and (pid := _pid(parts[1])) is not None:
            started[parts[0]] = pid
    return started


def stop_script(generation_dir: str, grace: float = STOP_GRACE) -> str:
    """SIGTERM every instance of the generation (its whole session), SIGKILL what still
    runs after ``grace`` seconds. A group is ours once its leader was checked (a pgid is
    not reused while any member lives), and it is waited for as a group: a leader that
    dies at SIGTERM (a ``sh -c`` wrapper) leaves no member that ignored it behind."""
    g = shlex.quote(posixpath.join(generation_dir, "run"))
    rounds = max(1, int(grace * 10))
    return f"""cd {g} 2>/dev/null || exit 0
{PID_OK}
mine() {{ pid_ok "$1" && [ "/proc/$1/cwd" -ef ../tree ]; }}
pids=
for f in *.pid; do
  [ -f "$f" ] || continue
  pid=; read -r pid < "$f"
  mine "$pid" || continue
  kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  pids="$pids $pid"
done
n=0
while [ "$n" -lt {rounds} ]; do
  left=; for p in $pids; do
    pid_ok "$p" || continue
    {{ kill -0 "-$p" 2>/dev/null || mine "$p"; }} && left="$left $p"
  done
  [ -z "$left" ] && break
  sleep 0.1; n=$((n+1))
done
for p in $pids; do
  pid_ok "$p" || continue
  kill -KILL "-$p" 2>/dev/null || {{ mine "$p" && kill -KILL "$p"; }}
done
exit 0"""


def remove_script(generation_dir: str) -> str:
    g = shlex.quote(generation_dir)
    return f"[ -e {g} ] || exit 0; chmod -R u+w {g} 2>/dev/null; rm -rf {g}"


HASHES_MARK = "--- molt hashes ---"


def hash_script(generation_dir: str) -> str:
    """The manifest written at launch, then sha256 of every regular file in the tree."""
    g = shlex.quote(generation_dir)
    return (
        f"cd {g} || exit 3; cat manifest.json || exit 4; echo; echo '{HASHES_MARK}'; "
        "cd tree && find . -type f -exec sha256sum {} +"
    )


def parse_hashes(text: str) -> dict[str, str]:
    """``sha256sum`` lines → ``{relative/path: sha256}`` (undoing its escapes); lines
    that are not one are skipped."""
    hashes = {}
    for line in text.split("\n"):  # not splitlines: a file name may hold \x85 or \u2028
        escaped = line.startswith("\\")
        if escaped:
            line = line[1:]
        digest, sep, path = line.partition("  ")
        if not sep or not path or not _is_sha256(digest):
            continue
        if escaped:
            path = _unescape(path)
        hashes[path[2:] if path.startswith("./") else path] = digest
    return dict(sorted(hashes.items()))


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _unescape(path: str) -> str:
    """Undo sha256sum's escapes of backslash, newline and carriage return in one pass,
    so an escaped backslash followed by an ``n`` stays a backslash and an ``n``."""
    return re.sub(r"\\([nr\\])", lambda m: {"n": "\n", "r": "\r"}.get(m[1], "\\"), path)


TREE_MARK = "--- molt tree ---"


def _is_mode(text: str) -> bool:
    """A file mode as ``find -printf %m`` writes it (octal digits)."""
    return 0 < len(text) <= 6 and all(c in "01234567" for c in text)


def tree_script(generation_dir: str) -> str:
    """The manifest written at launch; then every entry of the sealed tree (kind, path,
    mode or link target, NUL-separated); then the sha256 of every regular file."""
    g = shlex.quote(generation_dir)
    return (
        f"cd {g} || exit 3; cat manifest.json || exit 4; printf '\\n%s\\n' '{HASHES_MARK}'; "
        "cd tree || exit 3; "
        "find . -mindepth 1 \\( -type l -printf 'L\\0%P\\0%l\\0' \\) "
        "-o \\( -type d -printf 'D\\0%P\\0%m\\0' \\) "
        "-o \\( -type f -printf 'F\\0%P\\0%m\\0' \\) "
        "-o -printf 'S\\0%P\\0%M\\0'; "
        f"printf '\\n%s\\n' '{TREE_MARK}'; "
        "find . -type f -exec sha256sum -z {} +"
    )


def parse_tree(listing: str, hashes: str) -> dict[str, object]:
    """The entries :func:`tree_script` printed, in the manifest's own form."""
    sums = {}
    for line in hashes.split("\0"):
        digest, sep, path = line.strip("\n").partition("  ")
        if sep and len(digest) == 64:
            sums[path[2:] if path.startswith("./") else path] = digest
    tokens = listing.strip("\n").split("\0")
    entries: dict[str, object] = {}
    for index in range(0, len(tokens) - 2, 3):
        kind, path, value = tokens[index : index + 3]
        kind = kind.strip("\n")
        if kind == "L":
            entries[path] = {"link": value}
        elif kind == "D" and _is_mode(value):
            entries[path] = {"dir": f"{int(value, 8):04o}"}
        elif kind == "F" and _is_mode(value):
            entries[path] = {"sha256": sums.get(path, ""), "mode": f"{int(value, 8):04o}"}
        elif kind == "S":
            entries[path] = {"special": value}
    return dict(sorted(entries.items()))
