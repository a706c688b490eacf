"""``molt notify test``: a sample notice to each webhook of molt.toml's ``[notify]``
section, one line per webhook (``ok`` or why it failed); exit 1 if any failed."""

from __future__ import annotations

import argparse
import asyncio

from backends.config.fleet_config import MoltConfig
from backends.core.errors import ConfigError, shown
from tui.cli.output import emit

NO_SECTION = (
    "no [notify] section in {where}: add a [[notify.webhook]] table with "
    'url = "https://..." (and format = "slack" for Slack) to it; see docs/notify.md'
)


async def notify(args: argparse.Namespace, config: MoltConfig) -> int:
    """Send the sample notice to every webhook at once; say how each went."""
    if config.notify is None:
        if config.path is None:
            raise ConfigError(
                "no molt.toml, so no [notify] section: write one (`molt init`), add a "
                '[[notify.webhook]] table with url = "https://..." to it; see docs/notify.md'
            )
        raise ConfigError(NO_SECTION.format(where=shown(str(config.path))))
    from backends.core.notices import sample
    from backends.engine.notify import Delivery

    delivery = Delivery()
    hooks = config.notify.webhook
    try:
        # one try each: a test says at once whether the webhook takes it
        results = await asyncio.gather(*(delivery.post(h, sample(), attempts=1) for h in hooks))
    finally:
        await delivery.close()
    if args.json:
        emit(
            {
                "webhooks": [
                    {"webhook": h.shown, "format": h.format, "ok": not why, "error": why or None}
                    for h, why in zip(hooks, results, strict=True)
                ]
            }
        )
    else:
        for hook, why in zip(hooks, results, strict=True):
            print(f"{hook.shown} ({hook.format}): {'ok' if not why else 'failed: ' + why}")
    return 1 if any(results) else 0
