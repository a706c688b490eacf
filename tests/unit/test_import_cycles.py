"""No import cycles among Molt's own modules: every module can be imported on its own,
in any order, and the layers read one way. Imports under ``if TYPE_CHECKING:`` count
too: a cycle that only the type checker follows is still two modules that cannot be
understood one without the other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backends", "tui")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules ``path`` imports: at run time, inside functions, or only
    for the type checker."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name and m not in PACKAGES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_module_imports_itself_back_through_others():
    known = modules()
    graph = {name: imports(path, name, set(known)) for name, path in known.items()}
    assert cycles(graph) == []


def test_the_check_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_cycle_only_the_type_checker_follows_is_found(tmp_path: Path):
    package = tmp_path / "house"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kitchen.py").write_text("from house.cellar import Wine\n")
    (package / "cellar.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .kitchen import Cook\n"
    )
    known = {module_name(p, tmp_path): p for p in package.rglob("*.py")}
    graph = {name: imports(path, name, set(known)) for name, path in known.items()}
    assert graph["house.cellar"] == {"house.kitchen"}
    assert cycles(graph) == [["house.cellar", "house.kitchen"]]
