"""``molt``: the TUI when run alone, the headless CLI with a subcommand.

Both go through :class:`backends.engine.operations.Operations`, so they cannot disagree.
Exit codes: 0 done; 1 refused or failed (one line on stderr); 2 usage or config error.
Importing this module stays cheap (``molt --version``, ``molt`` without a terminal):
the engine and the verbs are imported once a verb runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from backends.core.errors import BackendError, shown
from tui.cli.arguments import NoJson, instance_count, plain_text, seconds, whole

USAGE_EXIT = 2
#: what ``logs --lines`` may ask for
MAX_LINES = 100_000
#: a shell's exit status for a process ended by SIGPIPE (its reader went away)
PIPE_CLOSED_EXIT = 128 + 13
NO_TERMINAL = (
    "molt: the TUI needs a terminal on stdin and stdout; without one, use "
    "`molt status [FLEET]` (once) or `molt watch FLEET` (as it happens)"
)


def molt_version() -> str:
    """This Molt's version: the installed package's metadata, else the ``pyproject.toml``
    of the source tree it runs from, else ``unknown``."""
    from importlib import metadata

    try:
        return metadata.version("molt")
    except metadata.PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    try:
        with (Path(__file__).resolve().parents[2] / "pyproject.toml").open("rb") as file:
            project = tomllib.load(file).get("project", {})
        if project.get("name") == "molt" and isinstance(project.get("version"), str):
            return str(project["version"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    return "unknown"


class Version(argparse.Action):
    """``molt --version``: the version is looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"molt {molt_version()}")  # stdout, as argparse's own version action
        parser.exit(0)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming what to do."""

    def error(self, message: str) -> NoReturn:
        # the message quotes what was typed: escape what a terminal would act on
        self.exit(USAGE_EXIT, f"{self.prog}: {shown(message)} (see {self.prog} --help)\n")


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="molt.toml to use (default: ./molt.toml, then the user config dir)",
    )
    parser.add_argument(
        "--read-only", action="store_true", default=default, help="refuse every mutating action"
    )


def build_parser() -> Parser:
    parser = Parser(prog="molt", description="Immutable deployments: launch, shift, retire.")
    _common(parser, None)
    parser.add_argument("--fleet", metavar="NAME", help="the fleet to open (TUI)")
    parser.add_argument("--version", action=Version)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name: str, help_text: str, *, fleet: str = "required") -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _common(sub, argparse.SUPPRESS)
        if fleet == "required":
            named = sub.add_argument("fleet", metavar="FLEET")
        elif fleet == "optional":
            named = sub.add_argument("fleet", metavar="FLEET", nargs="?", default=argparse.SUPPRESS)
        if fleet != "none":
            named.completer = fleet_names  # type: ignore[attr-defined]  # argcomplete's hook
        return sub

    status = command(
        "status",
        "show a fleet's generations, weights and health (no FLEET: every fleet, one row each)",
        fleet="optional",
    )
    status.add_argument("--json", action="store_true", help="stable machine-readable output")

    launch = command("launch", "launch a new generation beside the others, at weight 0")
    launch.add_argument(
        "--version",
        required=True,
        type=plain_text("version"),
        metavar="V",
        help="the version label",
    )
    launch.add_argument(
        "--count",
        type=instance_count,
        metavar="N",
        help="instances (default: the fleet's)",
    )
    launch.add_argument(
        "--note", default="", type=plain_text("note"), metavar="TEXT", help="why: shown in the TUI"
    )
    launch.add_argument("--artifact", metavar="DIR", help="artifact directory (local, ssh)")
    launch.add_argument("--image", dest="artifact", metavar="AMI", help="AMI id (aws)")
    launch.add_argument(
        "--wait", action="store_true", help="wait until healthy (exit 0) or failed (exit 1)"
    )
    launch.add_argument(
        "--timeout",
        type=seconds,
        default=300.0,
        metavar="S",
        help="seconds --wait waits (default 300)",
    )
    launch.add_argument("--json", action="store_true")

    shift = command("shift", "set traffic weights, e.g. g1=90 g2=10 (they must sum to 100)")
    shift.add_argument("weights", nargs="+", metavar="GEN=PCT")
    shift.add_argument(
        "--force", action="store_true", help="allow weight on a generation with no healthy instance"
    )
    shift.add_argument("--json", action="store_true")

    promote = command("promote", "send 100%% of traffic to one generation")
    promote.add_argument("generation", metavar="GEN")
    promote.add_argument(
        "--force", action="store_true", help="allow it even with no healthy instance"
    )
    promote.add_argument("--json", action="store_true")

    rollback = command("rollback", "all traffic back to the previous healthy generation")
    rollback.add_argument("--json", action="store_true")

    retire = command("retire", "drain, then destroy a generation that carries no traffic")
    retire.add_argument("generation", metavar="GEN")
    retire.add_argument("--json", action="store_true")

    apply = command("apply", "make a changed molt.toml take effect (locked, journaled)")
    apply.add_argument("--json", action="store_true")

    history = command("history", "the audit journal: who did what, when, and how it ended")
    history.add_argument("--json", action="store_true")
    history.add_argument(
        "--check",
        action="store_true",
        help="verify the journal's hash chain (exit 1 names the first broken record)",
    )

    verify = command("verify", "check generations for drift from their frozen artifact")
    verify.add_argument("generation", metavar="GEN", nargs="?")
    verify.add_argument("--json", action="store_true")

    rollout = command(
        "rollout", "walk a generation through weight steps, judged against its baseline"
    )
    rollout.add_argument("generation", metavar="GEN", nargs="?")
    rollout.add_argument("--steps", metavar="10,50,100", help="weight steps (percent)")
    rollout.add_argument("--bake", type=seconds, metavar="S", help="seconds at each step")
    rollout.add_argument("--pause", action="store_true", help="pause the fleet's rollout")
    rollout.add_argument("--resume", action="store_true", help="resume (or drive on) its rollout")
    rollout.add_argument("--abort", action="store_true", help="all traffic back to the baseline")
    rollout.add_argument("--json", action=NoJson, why="follow it with `molt watch FLEET --json`")

    logs = command("logs", "what an instance printed (a generation: its first instance)")
    logs.add_argument("instance", metavar="INSTANCE")
    logs.add_argument(
        "--lines", type=whole(0, MAX_LINES), default=100, metavar="N", help="last N lines (100)"
    )
    logs.add_argument("-f", "--follow", action="store_true", help="then follow new lines")
    logs.add_argument(
        "--json", action="store_true", help="the lines as JSON (one per line with -f)"
    )

    diff = command("diff", "what changed between two generations")
    diff.add_argument("a", metavar="GEN_A")
    diff.add_argument("b", metavar="GEN_B")
    diff.add_argument("--json", action="store_true")

    report = command(
        "report",
        "what happened to a fleet (no FLEET: every fleet), as Markdown for an incident document",
        fleet="optional",
    )
    report.add_argument("--since", default="24h", metavar="2h", help="how far back (24h)")
    report.add_argument(
        "--json", action=NoJson, why="it writes Markdown; `molt history FLEET --json`"
    )

    watch = command("watch", "follow a fleet's events and traffic as they happen")
    watch.add_argument(
        "--until",
        metavar="COND",
        help="exit 0 once healthy:GEN (every instance healthy) or weight:GEN=PCT holds",
    )
    watch.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        metavar="S",
        help="give up after S seconds (exit 1)",
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per line")

    changes = command("changes", "what changed across every fleet, merged by time", fleet="none")
    changes.add_argument("--since", default="1h", metavar="2h", help="how far back (1h)")
    changes.add_argument(
        "--fleet", dest="fleets", metavar="A,B", help="only these fleets (comma-separated)"
    )
    changes.add_argument("--json", action="store_true", help="stable machine-readable output")

    notify = command("notify", "the webhooks of molt.toml's [notify] section", fleet="none")
    notify.add_argument("action", choices=["test"], help="test: send a sample to each webhook")
    notify.add_argument("--json", action="store_true")

    agent = command("agent", "the local backend's agent (instances and proxy)", fleet="none")
    agent.add_argument("action", choices=["status", "stop"])
    agent.add_argument("--yes", action="store_true", help="stop without asking")
    agent.add_argument("--json", action="store_true")

    from backends.config.examples import DEFAULT, EXAMPLES

    init = command("init", "write a commented molt.toml for a backend", fleet="none")
    init.add_argument("--backend", choices=tuple(EXAMPLES), default=DEFAULT)
    init.add_argument("--name", default="web", help="the fleet's name (default: web)")

    completion = command("completion", "print the shell completion script", fleet="none")
    completion.add_argument("shell", choices=SHELLS)
    return parser


SHELLS = ("bash", "zsh", "fish")


def fleet_names(**_: Any) -> list[str]:
    """The fleets molt.toml names, for completing FLEET; none when it cannot be read."""
    from backends.config.loading import load_config
    from backends.core.errors import BackendError

    try:
        return list(load_config(None).fleets)
    except (BackendError, OSError):
        return []


def completion_script(shell: str) -> str:
    """The script that makes ``shell`` complete ``molt``'s verbs, flags and fleets
    (argcomplete; ``eval "$(molt completion bash)"`` in ~/.bashrc)."""
    from argcomplete.shell_integration import shellcode

    return str(shellcode(["molt"], shell=shell))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        if sys.stdout is not None:  # None when started with stdout closed (>&-)
            sys.stdout.flush()  # here, not at exit, so a reader gone away is caught below
        return code
    except BrokenPipeError:
        # ``molt history --json | head -c 10``: the reader has what it wanted. Quietly,
        # as a shell tool would end; stdout goes to /dev/null so exit flushes nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return PIPE_CLOSED_EXIT


def _terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal; a closed or missing one (``molt <&-``) is not."""
    try:
        return stream is not None and bool(stream.isatty())
    except ValueError:  # closed
        return False


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions: answer and exit
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    if args.command == "completion":
        print(completion_script(args.shell), end="")
        return 0
    if args.command is None and not (_terminal(sys.stdin) and _terminal(sys.stdout)):
        # Textual would wait for keys that never come, drawing escapes into a file
        print(NO_TERMINAL, file=sys.stderr)
        return USAGE_EXIT
    import asyncio

    from tui.cli import verbs

    try:
        if args.command is None:
            return verbs.open_tui(args)
        return asyncio.run(verbs.run(args))
    except BackendError as error:
        print(f"molt: {error.message}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        raise  # a reader gone away: see main
    except KeyboardInterrupt:
        print("molt: interrupted; the fleet keeps running as it is", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("MOLT_DEBUG"):
            raise
        print(
            f"molt: internal error: {type(error).__name__}: {error} "
            "(set MOLT_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
