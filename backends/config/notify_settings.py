"""molt.toml's ``[notify]`` section: where Molt tells the team what happened.

```toml
[notify]
lock_held_minutes = 30            # "lock-held": the fleet lock held longer than this

[[notify.webhook]]
url = "https://hooks.slack.com/services/T000/B000/XXXX"
format = "slack"                  # "json" (default) or "slack": {"text": ...}
events = ["rollout-aborted", "rollout-inconclusive", "interrupted", "taint"]

[[notify.webhook]]
url = "https://ops.example.com/molt"   # every event, as JSON
```

:func:`backends.config.loading.parse_settings` builds these from the table, so an unknown
key or a wrong type is an error naming the key; the checks below name theirs too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from backends.core.errors import ConfigError
from backends.core.notices import EVENTS

FORMATS = ("json", "slack")


def shown_url(url: str) -> str:
    """A webhook as it may be shown: scheme and host only — its path or query often
    holds the secret token (Slack's does)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "a webhook"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


@dataclass(frozen=True, slots=True)
class Webhook:
    """One ``[[notify.webhook]]``: where to POST, in which shape, for which events."""

    url: str
    #: ``json``: Molt's own object; ``slack``: ``{"text": ...}`` (Slack, Mattermost…)
    format: str = "json"
    #: which events go to this webhook (all of them when not given)
    events: tuple[str, ...] = EVENTS
    #: seconds each attempt may take before it counts as failed
    timeout: float = 5.0

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError("url must be an http:// or https:// address with a host")
        if self.format not in FORMATS:
            raise ConfigError(
                f"format must be one of {', '.join(FORMATS)}, not {self.format[:40]!r}"
            )
        if not self.events:
            raise ConfigError(f"events must name at least one of: {', '.join(EVENTS)}")
        for event in self.events:
            if event not in EVENTS:
                raise ConfigError(
                    f"events: unknown event {event[:40]!r} (known: {', '.join(EVENTS)})"
                )
        if not 0.5 <= self.timeout <= 60:
            raise ConfigError("timeout must be 0.5 to 60 seconds")

    @property
    def shown(self) -> str:
        """Scheme and host: never the path or query, which may hold a token."""
        return shown_url(self.url)


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """The ``[notify]`` section: its webhooks, and when a held lock is news."""

    webhook: tuple[Webhook, ...] = ()
    #: the fleet lock held longer than this many minutes is the ``lock-held`` event
    lock_held_minutes: float = 30.0

    def __post_init__(self) -> None:
        if not self.webhook:
            raise ConfigError(
                "webhook: add at least one [[notify.webhook]] table with a url, "
                'e.g. url = "https://hooks.example.com/molt"'
            )
        if len(self.webhook) > 20:
            raise ConfigError("webhook: at most 20 webhooks")
        if not 1 <= self.lock_held_minutes <= 7 * 24 * 60:
            raise ConfigError("lock_held_minutes must be 1 to 10080 (a week)")

    def wanting(self, event: str) -> list[Webhook]:
        """The webhooks that want ``event``."""
        return [hook for hook in self.webhook if event in hook.events]
