"""Shell completion, generated from the parser (argcomplete): bash really completes
verbs and the fleets molt.toml names; zsh and fish get their scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
FLEETS = "".join(
    f'[fleets.{name}]\nlisten = "127.0.0.1:{port}"\nartifact = "."\n'
    'start = "{python} app.py --port {port}"\n'
    for name, port in (("web", 9001), ("api", 9002))
)


def complete(line: str, cwd: Path) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end), through the real script."""
    script = (
        'source <(molt completion bash); COMP_LINE="$1"; COMP_POINT=${#1}; '
        'read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); '
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); "
        '_python_argcomplete molt "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", script, "bash", line],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_verbs_and_the_configured_fleets(tmp_path: Path):
    (tmp_path / "molt.toml").write_text(FLEETS)
    assert complete("molt sta", tmp_path) == ["status"]
    assert {"rollout", "rollback", "retire", "report"} <= set(complete("molt r", tmp_path))
    offered = complete("molt status ", tmp_path)
    assert {"web", "api", "--json"} <= set(offered), offered


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_naming_molt(shell: str):
    done = subprocess.run(
        [str(BIN / "molt"), "completion", shell], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "molt" in done.stdout and "_ARGCOMPLETE" in done.stdout
