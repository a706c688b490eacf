"""Fixtures for end-to-end runs of the real ``molt`` binary."""

from __future__ import annotations

import pytest

from tests.support.local import state_dir_env
from tests.support.terminal import Terminal


@pytest.fixture
def state_dir():
    """A fresh, short MOLT_STATE_DIR; its agent and instances are stopped afterwards."""
    with state_dir_env() as path:
        yield path


@pytest.fixture
def terminal():
    """A tmux window of the test's own, killed (server and socket) afterwards."""
    term = Terminal()
    try:
        yield term
    finally:
        term.kill()
