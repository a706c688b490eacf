"""What the local backend keeps in its state dir. Kept apart from the agent so that a
CLI command can find the agent without importing what the agent runs (aiohttp, the
proxy)."""

from __future__ import annotations

import os
from pathlib import Path

from backends.core.errors import ConfigError

SOCKET_NAME = "agent.sock"  # the agent answers here (mode 0600)
LOCK_NAME = "agent.lock"  # held by the one agent of this state dir
LOG_NAME = "agent.log"


def check_state_dir(state_dir: Path) -> None:
    """The state dir holds the agent's socket and the fleet's truth: refuse one that
    another user owns or that others may write to (they could replace the agent)."""
    try:
        info = state_dir.stat()
    except FileNotFoundError:
        return  # made by the agent, mode 0700
    except OSError as error:
        raise ConfigError(f"cannot use state dir {state_dir}: {error.strerror}") from error
    if info.st_uid != os.geteuid():
        raise ConfigError(
            f"state dir {state_dir} belongs to uid {info.st_uid}, not to you "
            f"(uid {os.geteuid()}); set MOLT_STATE_DIR to a directory of your own"
        )
    if info.st_mode & 0o022:
        raise ConfigError(
            f"state dir {state_dir} is writable by others (mode {info.st_mode & 0o777:03o}); "
            f"refusing it — chmod 700 {state_dir}"
        )
