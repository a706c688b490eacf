"""The audit journal of an AWS fleet: one sealed JSON line per write in the CloudWatch
Logs stream ``journal`` of the log group ``/molt/<fleet>`` (made on the first write).

Each write is sealed onto the hash of the stream's last event (writes happen under the
fleet lock, so the chain has one writer), and a write CloudWatch rejects — or does not
confirm — raises: no record, no action."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from backends import chain
from backends.aws import naming
from backends.aws.api import AwsApi
from backends.errors import OperationFailed
from backends.journal import Journal, JournalRecord


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class CloudWatchJournal(Journal):
    """Append-only, like every journal: readers fold a record's two writes into one."""

    reads_cost = True  # every read is a billed, throttled GetLogEvents

    def __init__(self, api: AwsApi) -> None:
        self.api = api
        self._ready: set[str] = set()

    async def write(self, record: JournalRecord) -> None:
        group = naming.log_group_name(record.fleet)

        def work() -> None:
            logs = self.api.client("logs")
            if group not in self._ready:
                self._ensure(logs, group, record.fleet)
            line = chain.seal(record.to_json(), chain.hash_of(self._last(logs, group)))
            event = {"timestamp": int(time.time() * 1000), "message": line}
            stream = {"logGroupName": group, "logStreamName": naming.JOURNAL_STREAM}
            try:
                answer = logs.put_log_events(**stream, logEvents=[event])
            except ClientError as error:
                if _code(error) != "ResourceNotFoundException":
                    raise
                self._ensure(logs, group, record.fleet)  # deleted behind our back
                answer = logs.put_log_events(**stream, logEvents=[event])
            rejected = answer.get("rejectedLogEventsInfo")
            if rejected:
                raise OperationFailed(
                    f"CloudWatch Logs rejected the journal record for {record.action} "
                    f"({', '.join(sorted(rejected))}); nothing was done"
                )
            self._ready.add(group)

        await self.api.run(work, f"journal log group {group}")

    def _last(self, logs: Any, group: str) -> str:
        """The stream's newest event: what the next write is sealed onto."""
        try:
            page = logs.get_log_events(
                logGroupName=group,
                logStreamName=naming.JOURNAL_STREAM,
                startFromHead=False,
                limit=1,
            )
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return ""
            raise
        events = page.get("events") or []
        return str(events[-1].get("message", "")) if events else ""

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

    async def lines(self, fleet: str) -> list[str]:
        lines, _ = await self._read(fleet, "", every_page=True)
        return lines

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        """One ``GetLogEvents`` from ``cursor`` (CloudWatch's forward token): a poll costs
        one call; what did not fit in the page comes with the next."""
        return await self._read(fleet, cursor, every_page=False)

    async def summary(self, fleet: str) -> tuple[list[str], str]:
        return await self._read(fleet, "", every_page=True)

    async def _read(self, fleet: str, cursor: str, *, every_page: bool) -> tuple[list[str], str]:
        group = naming.log_group_name(fleet)

        def work() -> tuple[list[str], str]:
            logs = self.api.client("logs")
            lines: list[str] = []
            token = cursor
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
                        return lines, token  # nothing journaled yet
                    raise
                events = page.get("events", [])
                lines.extend(str(e.get("message", "")) for e in events)
                after = str(page.get("nextForwardToken") or token)
                if not every_page or not events or after == token:
                    return lines, after
                token = after

        return await self.api.run(work, f"journal log group {group}")
