"""Import contract: the backends are reachable without the UI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BACKENDS = Path(__file__).resolve().parents[2] / "backends"


def test_no_backend_module_imports_textual_or_tui():
    offenders = []
    for path in BACKENDS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"textual", "tui"}
            ]
    assert offenders == []


def test_importing_every_backend_loads_no_textual():
    code = (
        "import sys, pkgutil, importlib, backends\n"
        "for m in pkgutil.walk_packages(backends.__path__, 'backends.'):\n"
        "    if not m.name.endswith('demo_app.app'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'tui')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
