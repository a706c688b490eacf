"""The built-in demo with no molt.toml: two local fleets, ``web`` and ``api``, each with
its own g1 on first use, on its own port — started side by side, not one after the
other (the README's quick start must stay quick)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.support.local import molt, molt_json, molt_process

pytestmark = pytest.mark.slow


def test_web_and_api_bootstrap_at_once_each_on_its_own_port(state_dir):
    first = [molt_process(state_dir, "status", name, "--json") for name in ("web", "api")]
    outputs = [process.communicate(timeout=120) for process in first]
    assert [process.returncode for process in first] == [0, 0], outputs
    web, api = (json.loads(out) for out, _ in outputs)
    assert (web["fleet"], api["fleet"]) == ("web", "api")
    assert web["entry"] != api["entry"]
    for status in (web, api):
        assert [(g["id"], g["version"], g["weight"]) for g in status["generations"]] == [
            ("g1", "v1", 100)
        ]
        with urllib.request.urlopen(f"http://{status['entry']}/", timeout=5) as answer:
            assert answer.read().decode().startswith("demo v1 g1")

    launched, promoted = {}, {}
    for name in ("web", "api"):
        records = molt_json(state_dir, "history", name)["records"]
        assert [(r["action"], r["outcome"]) for r in records] == [
            ("launch", "ok"),
            ("promote", "ok"),
        ]
        launched[name], promoted[name] = records[0]["at"], records[1]["at"]
    # side by side: each fleet's launch began before the other's first generation was live
    assert launched["api"] < promoted["web"] and launched["web"] < promoted["api"]

    found = molt_json(state_dir, "changes")["changes"]
    assert sorted((c["fleet"], c["action"]) for c in found) == [
        ("api", "launch"),
        ("api", "promote"),
        ("web", "launch"),
        ("web", "promote"),
    ]


def test_an_unknown_fleet_names_both_demo_fleets(state_dir):
    done = molt(state_dir, "status", "demo")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "molt: unknown fleet 'demo' (no molt.toml: only the demo fleets); known fleets: web, api"
    )
