"""What the local backend keeps in its state dir. Kept apart from the agent so that a
CLI command can find the agent without importing what the agent runs (aiohttp, the
proxy)."""

SOCKET_NAME = "agent.sock"  # the agent answers here (mode 0600)
LOCK_NAME = "agent.lock"  # held by the one agent of this state dir
LOG_NAME = "agent.log"
