"""The AWS journal's head is anchored in a tag on the fleet's listener: someone who can
rewrite the journal's log stream (delete it, put back fewer or re-chained events) but
not tag the listener is named by ``history --check``, piped and with --json."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from backends.aws.api import AwsApi
from backends.aws.journal import CloudWatchJournal
from backends.core import chain
from backends.core.journal import JournalRecord
from tests.aws.support import aws_settings, molt_toml
from tests.aws.test_cli import ok
from tests.support.forgery import rechain
from tests.support.local import molt

pytestmark = pytest.mark.slow

STREAM = {"logGroupName": "/molt/web", "logStreamName": "journal"}


def _rewrite(world, lines: list[str]) -> None:
    """The stream deleted and made again with ``lines``: what CloudWatch lets one do."""
    logs = world.client("logs")
    logs.delete_log_stream(**STREAM)
    logs.create_log_stream(**STREAM)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(**STREAM, logEvents=events)



def _fails(tmp_path, config, words: str) -> None:
    piped = molt(tmp_path, "history", "web", "--check", config=config)
    assert piped.returncode == 1 and words in piped.stderr, piped.stderr
    found = molt(tmp_path, "history", "web", "--check", "--json", config=config)
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["intact"] is False and report["anchored"] == "the listener's tags"
    assert any(words in p for p in report["problems"]), report


def test_the_head_is_a_listener_tag_and_catches_a_rewritten_stream(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    launch = ["launch", "web", "--version", "v1", "--image", world.image, "--wait"]
    ok(molt(tmp_path, *launch, config=config))
    ok(molt(tmp_path, "promote", "web", "g1", config=config))
    assert "head anchored by the listener's tags" in ok(
        molt(tmp_path, "history", "web", "--check", config=config)
    )
    events = world.client("logs").get_log_events(**STREAM, startFromHead=True)["events"]
    lines = [e["message"] for e in events]
    tags = world.client("elbv2").describe_tags(ResourceArns=[world.listener_arn])
    found = tags["TagDescriptions"][0]["Tags"]
    (head,) = [t["Value"] for t in found if t["Key"] == "molt:journal-head"]
    assert head == f"{len(lines)} {chain.hash_of(lines[-1])}"

    _rewrite(world, rechain(lines[:-2]))  # the promote, gone; the chain made whole
    _fails(tmp_path, config, f"truncated: it holds {len(lines) - 2} records")
    _rewrite(world, rechain(lines, lambda data: data | {"operator": "mallory"}))
    _fails(tmp_path, config, "re-chained")


async def test_a_tag_write_that_failed_once_leaves_the_anchor_behind_not_drifting(world):
    api = AwsApi(aws_settings(world))
    journal = CloudWatchJournal(api, world.listener_arn)
    failing: list[int] = []

    def refuse(**_: object) -> None:
        if failing and failing.pop():
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "AddTags")

    api.client("elbv2").meta.events.register("before-call.*.AddTags", refuse)
    for number in range(4):
        if number == 1:
            failing[:] = [1]  # the second write's tag is not written
        record = JournalRecord(fleet="web", action="shift", operator="amy", args={"n": number})
        await journal.write(record)
    assert not failing
    lines = await journal.lines("web")
    assert len(lines) == 4
    assert await journal.anchor("web") == chain.Anchor(1, chain.hash_of(lines[0]))
    report = await journal.check("web")
    assert report.problems == (
        "3 records follow the head the listener's tags anchored (record 2 on): written "
        "outside Molt, or while the anchor could not be updated",
    )
    api.close()
