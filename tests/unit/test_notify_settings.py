"""molt.toml's [notify] section: webhooks, formats, events — every mistake named with its
key, and a webhook shown without the path that may hold its token."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.config.loading import load_config
from backends.config.notify_settings import shown_url
from backends.core.errors import ConfigError
from backends.core.notices import EVENTS

FLEET = """
[fleets.web]
artifact = "."
start = "{python} server.py --port {port}"
listen = "127.0.0.1:9000"
"""


def write(tmp_path: Path, notify: str) -> str:
    path = tmp_path / "molt.toml"
    path.write_text(notify + FLEET)  # a top-level key must come before any table
    return str(path)


def test_webhooks_with_their_formats_and_events(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
[notify]
lock_held_minutes = 10
[[notify.webhook]]
url = "https://hooks.slack.com/services/T0/B0/SECRET"
format = "slack"
events = ["rollout-aborted", "taint"]
[[notify.webhook]]
url = "http://127.0.0.1:8080/molt"
""",
        )
    )
    assert config.notify is not None
    slack, plain = config.notify.webhook
    assert (slack.format, slack.events) == ("slack", ("rollout-aborted", "taint"))
    assert (plain.format, plain.events, plain.timeout) == ("json", EVENTS, 5.0)
    assert config.notify.lock_held_minutes == 10
    assert config.fleet("web").notify == config.notify  # each fleet's sessions tell it
    assert config.notify.wanting("rollout-done") == [plain]


def test_no_section_nobody_is_told(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config.notify is None and config.fleet("web").notify is None


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ("[notify]\n", "notify.webhook: add at least one [[notify.webhook]] table"),
        ('[[notify.webhook]]\nurl = "ftp://x/"\n', "notify.webhook[0].url must be an http://"),
        ('[[notify.webhook]]\nurl = "http://:80/"\n', "notify.webhook[0].url must be an http://"),
        ("[[notify.webhook]]\nurl = 3\n", "notify.webhook[0].url must be a string"),
        (
            '[[notify.webhook]]\nurl = "http://x/"\nformat = "xml"\n',
            "notify.webhook[0].format must be one of json, slack, not 'xml'",
        ),
        (
            '[[notify.webhook]]\nurl = "http://x/"\nevents = ["deploy"]\n',
            "notify.webhook[0].events: unknown event 'deploy' (known: rollout-aborted",
        ),
        ('[[notify.webhook]]\nurl = "http://x/"\nevents = []\n', "notify.webhook[0].events must"),
        (
            '[[notify.webhook]]\nurl = "http://x/"\nsecret = 1\n',
            "unknown key notify.webhook[0].secret",
        ),
        ('[[notify.webhook]]\nurl = "http://x/"\ntimeout = 0\n', "notify.webhook[0].timeout must"),
        (
            '[notify]\nlock_held_minutes = 0\n[[notify.webhook]]\nurl = "http://x/"\n',
            "notify.lock_held_minutes must be 1 to 10080",
        ),
        ('notify = "https://x/"\n', "notify must be a table, not a string"),
        ("[notify]\nwebhook = 1\n", "notify.webhook must be a list"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(tmp_path, notify, message):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, notify))
    assert message in raised.value.message
    assert "\n" not in raised.value.message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/SECRET", "https://hooks.slack.com"),
        ("https://user:pass@example.com:8443/x?token=SECRET", "https://example.com:8443"),
        ("http://[::1]:9000/hook", "http://[::1]:9000"),
    ],
)
def test_a_webhook_is_shown_by_scheme_and_host_only(url, shown):
    assert shown_url(url) == shown
