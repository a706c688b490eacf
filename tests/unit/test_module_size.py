"""No module in backends/ or tui/ over 400 lines (ARCHITECTURE.md): a module that grows
past it is split by what its parts do, before it is hard to read."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for room in ("backends", "tui")
        for path in (ROOT / room).rglob("*.py")
    }
    assert len(sizes) > 100  # the rooms were found
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}
