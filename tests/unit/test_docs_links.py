"""The README, ARCHITECTURE.md and docs/ stay true to the tree: every relative link
resolves and every source path they name exists (code moves; its description must move
with it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
SOURCE = re.compile(r"`((?:backends|tui|tests|scripts)/[\w/.-]+\.(?:py|tcss))")


def pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


def broken(page: Path) -> list[str]:
    text = page.read_text()
    found = []
    for target in LINK.findall(text):
        if "://" not in target and not (page.parent / target).exists():
            found.append(f"{page.name}: link {target}")
    for path in SOURCE.findall(text):
        if not (ROOT / path).exists():
            found.append(f"{page.name}: names {path}")
    return found


def test_every_link_and_source_path_in_the_docs_exists():
    assert [problem for page in pages() for problem in broken(page)] == []


def test_the_check_sees_a_moved_module(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("see `backends/session.py` and [the guide](nowhere.md)\n")
    assert broken(page) == ["page.md: link nowhere.md", "page.md: names backends/session.py"]
