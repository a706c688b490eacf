"""The audit journal of an AWS fleet: one sealed JSON line per write in the CloudWatch
Logs stream ``journal`` of the log group ``/molt/<fleet>`` (made on the first write).

Each write is sealed onto the hash of the stream's last event (writes happen under the
fleet lock, so the chain has one writer), and a write CloudWatch rejects — or does not
confirm — raises: no record, no action.

After each write the journal's head (``<count> <hash>``) goes into the tag
``molt:journal-head`` on the fleet's listener: whoever can rewrite the log stream (or
delete and re-create it) but not tag the listener is named by ``history --check``."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from botocore.exceptions import ClientError

from backends.aws import naming
from backends.aws.api import AwsApi
from backends.core import chain
from backends.core.chain import Anchor
from backends.core.errors import OperationFailed
from backends.core.journal import Journal, JournalRecord

HEAD_TAG = "molt:journal-head"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class CloudWatchJournal(Journal):
    """Append-only, like every journal: readers fold a record's two writes into one."""

    anchored_at = "the listener's tags"
    reads_cost = True  # every read is a billed, throttled GetLogEvents

    def __init__(self, api: AwsApi, listener_arn: str = "") -> None:
        self.api = api
        self.listener_arn = listener_arn
        self._ready: set[str] = set()

    async def write(self, record: JournalRecord) -> None:
        group = naming.log_group_name(record.fleet)

        def work() -> None:
            logs = self.api.client("logs")
            if group not in self._ready:
                self._ensure(logs, group, record.fleet)
            before = chain.hash_of(self._last(logs, group))
            line = chain.seal(record.to_json(), before)
            head = self._head_before(logs, group, before)
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
            if head is not None:
                self._anchor(head.after(line))

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

    def _head_before(self, logs: Any, group: str, before: str) -> Anchor | None:
        """The anchored head this write moves on from (counted from the stream once,
        for a journal not anchored yet); None where there is no listener to anchor on,
        or where the anchored head is not the line this write follows (``before``, its
        hash): a tag write failed, or the stream was written outside Molt. The anchor
        then stays where it is, so ``history --check`` names the records beyond it —
        moving it by one would anchor a count and a hash that never went together."""
        if not self.listener_arn:
            return None
        try:
            anchored = self._tagged()
        except ClientError:
            return None  # the anchor cannot be read: it stays behind
        if anchored is None:
            return Anchor(len(_read_pages(logs, group, "", every_page=True)[0]), before)
        return anchored if anchored.head == before else None

    def _tagged(self) -> Anchor | None:
        answer = self.api.client("elbv2").describe_tags(ResourceArns=[self.listener_arn])
        for description in answer.get("TagDescriptions", []):
            for tag in description.get("Tags", []):
                if tag.get("Key") == HEAD_TAG:
                    return Anchor.parse(str(tag.get("Value", "")))
        return None

    def _anchor(self, head: Anchor) -> None:
        """The new head into the listener's tags; a tag that cannot be written leaves
        the anchor behind (``history --check`` then names the records beyond it)."""
        tags = [{"Key": HEAD_TAG, "Value": head.text()}]
        with contextlib.suppress(ClientError):
            self.api.client("elbv2").add_tags(ResourceArns=[self.listener_arn], Tags=tags)

    async def anchor(self, fleet: str) -> Anchor | None:
        if not self.listener_arn:
            return None
        return await self.api.run(self._tagged, f"listener {self.listener_arn}")

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
        lines, _ = await self._pages(fleet, "", every_page=True)
        return lines

    async def after(self, fleet: str, cursor: str) -> tuple[list[str], str]:
        """One ``GetLogEvents`` from ``cursor`` (CloudWatch's forward token): a poll costs
        one call; what did not fit in the page comes with the next."""
        return await self._pages(fleet, cursor, every_page=False)

    async def summary(self, fleet: str) -> tuple[list[str], str]:
        return await self._pages(fleet, "", every_page=True)

    async def _pages(self, fleet: str, cursor: str, *, every_page: bool) -> tuple[list[str], str]:
        group = naming.log_group_name(fleet)
        return await self.api.run(
            lambda: _read_pages(self.api.client("logs"), group, cursor, every_page=every_page),
            f"journal log group {group}",
        )


def _read_pages(logs: Any, group: str, cursor: str, *, every_page: bool) -> tuple[list[str], str]:
    """The journal's lines after ``cursor`` (one page, or every page) and the cursor
    after them; a stream not there yet is an empty journal."""
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
