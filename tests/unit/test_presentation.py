"""The TUI knows no backend by name: what differs per driver (the entry point's word,
what a launch freezes, the quit hint) comes from the driver's description."""

from __future__ import annotations

import ast
from pathlib import Path

from backends.config.drivers import DRIVERS, describe

TUI = Path(__file__).resolve().parents[2] / "tui"


def test_no_backend_name_is_spelled_in_the_tui():
    found = []
    for path in TUI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in DRIVERS:
                found.append(f"{path.relative_to(TUI)}:{node.lineno} {node.value!r}")
    assert found == []


def test_each_driver_says_what_a_launch_freezes_and_where_traffic_enters():
    assert describe("aws").artifact_label == "Image (AMI)" and describe("aws").artifact_required
    assert describe("local").entry_label("127.0.0.1:8080") == "proxy 127.0.0.1:8080"
    assert describe("ssh").entry_word == "HAProxy"
    assert describe("synthetic").entry_label("") == "entry —"
