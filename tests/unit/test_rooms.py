"""Who may import whom, as ARCHITECTURE.md draws it: the pure domain (``core``) imports
no other room; configuration builds on the domain; drivers know the contract, never the
engine nor each other; the engine and the UI sit on top. Type-only imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ("local", "ssh", "aws")

MAY_IMPORT: dict[str, set[str]] = {
    "core": {"core"},
    "config": {"core", "config"},
    "contract": {"core", "config"},
    **{driver: {"core", "config", "contract", driver} for driver in DRIVERS},
    "engine": {"core", "config", "contract", "engine"},
    "tui": {"core", "config", "contract", "engine", "tui"},
    "backends": set(),  # backends/__init__.py: the package's docstring, nothing more
}

# Each exception names the one import and why it is there.
EXCEPTIONS = {
    # the driver table loads drivers by name and returns a Backend: it sits above the contract
    ("backends.config.drivers", "backends.contract"),
    # no molt.toml: the demo fleet is the local driver's, imported only when it is needed
    ("backends.config.loading", "backends.local.demo"),
    # `molt agent status|stop` talks to the local driver's agent, the one verb of one driver
    ("tui.cli.agent", "backends.local.driver"),
}


def room(module: str) -> str:
    parts = module.split(".")
    return "tui" if parts[0] == "tui" else parts[1] if len(parts) > 1 else "backends"


def project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in ("backends", "tui") and "." in m}


def trespasses() -> list[str]:
    found = []
    for package in ("backends", "tui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts).removesuffix(".__init__")
            allowed = MAY_IMPORT.get(room(module))
            if allowed is None:
                found.append(f"{module} is in no room")
                continue
            for target in sorted(project_imports(path)):
                if room(target) not in allowed and (module, target) not in EXCEPTIONS:
                    found.append(f"{module} imports {target}")
    return found


def test_every_module_imports_only_the_rooms_it_may():
    assert trespasses() == []


def test_the_check_sees_a_driver_reaching_into_the_engine(tmp_path, monkeypatch):
    fake = tmp_path / "backends" / "ssh"
    fake.mkdir(parents=True)
    (tmp_path / "tui").mkdir()
    (fake / "driver.py").write_text("from backends.engine.session import FleetSession\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert trespasses() == ["backends.ssh.driver imports backends.engine.session"]
