"""The audit journal of an AWS fleet: one JSON line per write in the CloudWatch Logs
stream ``journal`` of the log group ``/molt/<fleet>`` (made on the first write)."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from backends.aws import naming
from backends.aws.api import AwsApi
from backends.journal import Journal, JournalRecord, fold


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class CloudWatchJournal(Journal):
    """Append-only, like every journal: readers fold a record's two writes into one."""

    def __init__(self, api: AwsApi) -> None:
        self.api = api
        self._ready: set[str] = set()

    async def write(self, record: JournalRecord) -> None:
        group = naming.log_group_name(record.fleet)
        line = record.to_line()

        def work() -> None:
            logs = self.api.client("logs")
            if group not in self._ready:
                self._ensure(logs, group, record.fleet)
            event = {"timestamp": int(time.time() * 1000), "message": line}
            try:
                logs.put_log_events(
                    logGroupName=group, logStreamName=naming.JOURNAL_STREAM, logEvents=[event]
                )
            except ClientError as error:
                if _code(error) != "ResourceNotFoundException":
                    raise
                self._ensure(logs, group, record.fleet)  # deleted behind our back
                logs.put_log_events(
                    logGroupName=group, logStreamName=naming.JOURNAL_STREAM, logEvents=[event]
                )
            self._ready.add(group)

        await self.api.run(work, f"journal log group {group}")

    def _ensure(self, logs: Any, group: str, fleet: str) -> None:
        """The log group and stream, tagged with the fleet; already there is fine."""
        tags = {naming.FLEET: naming.elb_tag_value(fleet)}
        stream = {"logGroupName": group, "logStreamName": naming.JOURNAL_STREAM}
        for create, params in (
            (logs.create_log_group, {"logGroupName": group, "tags": tags}),
            (logs.create_log_stream, stream),
        ):
            try:
                create(**params)
            except ClientError as error:
                if _code(error) != "ResourceAlreadyExistsException":
                    raise

    async def records(self, fleet: str) -> list[JournalRecord]:
        group = naming.log_group_name(fleet)

        def work() -> list[str]:
            logs = self.api.client("logs")
            lines: list[str] = []
            token: str | None = None
            while True:
                params: dict[str, Any] = {
                    "logGroupName": group,
                    "logStreamName": naming.JOURNAL_STREAM,
                    "startFromHead": True,
                }
                if token:
                    params["nextToken"] = token
                try:
                    page = logs.get_log_events(**params)
                except ClientError as error:
                    if _code(error) == "ResourceNotFoundException":
                        return lines  # nothing journaled yet
                    raise
                lines.extend(str(e.get("message", "")) for e in page.get("events", []))
                if not page.get("events") or page.get("nextForwardToken") in (None, token):
                    return lines
                token = page["nextForwardToken"]

        lines = await self.api.run(work, f"journal log group {group}")
        writes = []
        for line in lines:
            try:
                writes.append(JournalRecord.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue  # not a Molt record; someone else wrote to the stream
        return fold(writes)
