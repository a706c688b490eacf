"""Fleets on AWS: one Auto Scaling group per generation, from its own launch template
version (the AMI is the artifact), behind one ALB listener whose default action forwards
to the generations' target groups by weight.

Truth lives in AWS alone: generations are rediscovered from their tags on every read,
nothing is kept locally. A refresh costs one paginated ``DescribeAutoScalingGroups``
plus one ``DescribeTargetHealth`` per generation, however many instances there are
(the weights travel in the groups' ``molt:weight`` tags, a mirror of the listener that
:meth:`AwsBackend.verify` checks; private IPs, which never change, are looked up once
per new instance).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from backends.aws import launching, naming, retiring, traffic
from backends.aws.api import AwsApi
from backends.aws.health import TargetHealthSource, TargetState, describe_target_health
from backends.aws.journal import CloudWatchJournal
from backends.aws.lease import ListenerLease
from backends.aws.metrics import Metrics
from backends.aws.reading import GroupRecord, forward_entries, to_generation
from backends.aws.resources import FleetResources
from backends.aws.settings import AwsSettings
from backends.config.fleet_config import FleetConfig
from backends.contract import Backend
from backends.core.errors import NotFound
from backends.core.events import Event
from backends.core.locking import FLEET_LOCK, Lease
from backends.core.model import (
    DriftReport,
    FileChange,
    FileDrift,
    FleetSnapshot,
    Generation,
    GenerationSpec,
    Lifecycle,
)
from backends.core.polling import poll_events
from backends.core.proofs import JournalLaunches

#: the tag EC2 itself puts on every instance launched from a launch template
TEMPLATE_VERSION_TAG = "aws:ec2launchtemplate:version"
#: how often a retire re-reads while it waits (at most; the fleet's poll_interval if less)
RETIRE_POLL_MAX = 5.0


class AwsBackend(Backend):
    """One fleet on AWS.

    Attributes:
        target_health: the seam through which target health is read (see
            :mod:`backends.aws.health`); tests substitute a scripted source.
    """

    kind = "aws"
    hands_over_snapshots = True

    def __init__(self, fleet: FleetConfig, state_dir: Path, *, read_only: bool = False) -> None:
        super().__init__(fleet, state_dir, read_only=read_only)
        self.settings: AwsSettings = fleet.settings
        self.api = AwsApi(self.settings)
        self.resources = FleetResources(self.api, fleet.name, self.settings)
        self.journal = CloudWatchJournal(self.api, self.settings.listener_arn)
        self._launches = JournalLaunches(fleet.name)  # what verify holds versions against
        self.leases = ListenerLease(self.api, fleet.name, self.settings.listener_arn)
        self.metrics = Metrics(self.api, self.settings.listener_arn)
        self.target_health: TargetHealthSource = describe_target_health
        self._addresses: dict[str, str] = {}
        self._operator: str | None = None

    @property
    def poll_interval(self) -> float:
        return self.settings.poll_interval

    # reading ---------------------------------------------------------------------------
    async def snapshot(self) -> FleetSnapshot:
        records = await self.resources.groups()
        healths = await asyncio.gather(
            *(self._targets(r, r.target_group) for r in records if r.target_group)
        )
        targets = dict(zip([r.name for r in records if r.target_group], healths, strict=True))
        await self._learn_addresses(records)
        numbers = await self.metrics.traffic(records)
        generations = tuple(
            replace(
                to_generation(r, targets.get(r.name, {}), self._addresses, self.settings.port),
                traffic=numbers.get(r.target_group or ""),
            )
            for r in records
        )
        return FleetSnapshot(
            fleet=self.name,
            backend=self.kind,
            entry=self.settings.entry,
            generations=generations,
            problems=(self.metrics.problem,) if self.metrics.problem else (),
        )

    async def _targets(self, record: GroupRecord, target_group: str) -> Mapping[str, TargetState]:
        """One target group's health through the seam; a group deleted a moment ago
        (a retire in progress) has no targets rather than failing the whole read."""

        def work() -> Mapping[str, TargetState]:
            try:
                return self.target_health(self.api.client("elbv2"), target_group, record.version)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "TargetGroupNotFound":
                    return {}
                raise

        return await self.api.run(work, f"target group of {record.generation} ({target_group})")

    async def _learn_addresses(self, records: list[GroupRecord]) -> None:
        """Private IPs never change for an instance's life: look up only new ones."""
        current = [i for r in records for i in r.instance_ids]
        unknown = [i for i in current if not self._addresses.get(i)]
        learned = await self.resources.addresses(unknown) if unknown else {}
        known = {**self._addresses, **learned}
        self._addresses = {i: known[i] for i in current if known.get(i)}

    async def watch(self) -> AsyncIterator[Event]:
        async for event in poll_events(self.name, self.snapshot, self.settings.poll_interval):
            yield event

    # acting ----------------------------------------------------------------------------
    async def _launch(self, spec: GenerationSpec, resume: str | None) -> Generation:
        return await launching.launch(self.resources, spec, resume)

    # the fleet lock: a lease tag on the listener ---------------------------------------
    async def _acquire(self, lease: Lease) -> Lease:
        return await self.leases.take(lease)

    async def renew(self, lease: Lease) -> Lease:
        return await self.leases.renew(lease)

    async def release(self, lease: Lease) -> None:
        await self.leases.give_back(lease)

    async def lock_holder(self, lock: str = FLEET_LOCK) -> Lease | None:
        return await self.leases.holder(lock)

    async def lock_holders(self, locks: Sequence[str]) -> dict[str, Lease | None]:
        return await self.leases.holders(locks)

    async def _set_weights(self, weights: dict[str, int]) -> None:
        await traffic.set_weights(self.resources, weights)

    # what the listener does against what Molt recorded ---------------------------------
    async def differences(self, snapshot: FleetSnapshot) -> tuple[str, ...]:
        """See :func:`backends.aws.traffic.differences`. A read: nothing is written."""
        return await traffic.differences(self.resources, snapshot)

    async def _apply(self) -> tuple[str, ...]:
        return await traffic.apply(self.resources, await self.snapshot())

    async def _retire(self, generation: str) -> None:
        record = await self.resources.group(generation)
        every = min(self.settings.poll_interval, RETIRE_POLL_MAX)
        await retiring.retire(self.resources, record, self._targets, every)

    async def verify(self, generation: str) -> DriftReport:
        """Drift on AWS: a group moved to another launch template version, an instance
        not launched from the generation's version or running another AMI, or listener
        weights that differ from what Molt set."""
        record = await self.resources.group(generation)
        expected = str(record.number)
        image = record.tags.get(naming.IMAGE, "")
        drift: list[FileDrift] = []
        if record.template_version != expected:
            drift.append(
                FileDrift(
                    record.name,
                    f"launch template version {record.template_version}, launched as {expected}",
                    FileChange.CHANGED,
                )
            )
        launched_as = f"launch template version {record.template_version}"
        proof = await self._launches.proof(self.journal, generation)
        journaled = proof.journaled
        if journaled and journaled != launched_as:  # the group's tags cannot hide it
            what = f"{launched_as}, journaled at launch as {journaled.split()[-1]}"
            drift.append(FileDrift(record.name, what, FileChange.CHANGED))
        elif proof.doubtful:  # the journal cannot say which version the launch made
            what = f"{launched_as} (its launch record does not hold in the journal: unverifiable)"
            drift.append(FileDrift(record.name, what, FileChange.CHANGED))
        drift.extend(self._group_drift(record))
        for instance in await self.resources.instances(record.instance_ids):
            drift.extend(_instance_drift(instance, expected, image))
        on_listener = dict(forward_entries(await self.resources.listener()))
        listener_weight = on_listener.get(record.target_group or "", 0)
        if listener_weight != record.weight:
            what = f"weight {listener_weight}% on the listener, {record.weight}% as Molt set it"
            drift.append(FileDrift("listener", what, FileChange.CHANGED))
        return DriftReport(
            fleet=self.name,
            generation=generation,
            checked=(*record.instance_ids, "listener"),
            drift=tuple(drift),
        )

    async def frozen(self, generation: str) -> dict[str, Any]:
        """The launch template version the generation was launched from (its AMI,
        instance type, user data…), as EC2 keeps it."""
        record = await self.resources.group(generation)
        answer = await self.api.call(
            "ec2",
            "describe_launch_template_versions",
            f"launch template version {record.number}",
            LaunchTemplateName=naming.template_name(self.name),
            Versions=[str(record.number)],
        )
        versions = answer.get("LaunchTemplateVersions") or [{}]
        return {"template": dict(versions[0].get("LaunchTemplateData") or {})}

    # what instances print: a CloudWatch Logs group (one stream per instance id) when
    # the fleet names one, else the EC2 console output --------------------------------
    async def _own(self, instance: str) -> None:
        records = await self.resources.groups()
        if not any(instance in r.instance_ids for r in records):
            running = [i for r in records for i in r.instance_ids]
            raise NotFound(
                f"fleet {self.name} has no instance {instance} (running: "
                f"{', '.join(running) or 'none'}); see `molt status {self.name}`"
            )

    async def logs(self, instance: str, lines: int) -> list[str]:
        await self._own(instance)
        group = getattr(self.settings, "logs_group", None)
        if group:
            page = await self.api.call(
                "logs",
                "get_log_events",
                f"log stream {instance} of {group}",
                logGroupName=group,
                logStreamName=instance,
                startFromHead=False,
                limit=max(1, min(int(lines), 10_000)),
            )
            return [str(e.get("message", "")).rstrip("\n") for e in page.get("events", [])]
        return (await self._console(instance))[-lines:] if lines else []

    async def _console(self, instance: str) -> list[str]:
        answer = await self.api.call(
            "ec2",
            "get_console_output",
            f"the console output of {instance}",
            InstanceId=instance,
            Latest=True,
        )
        return str(answer.get("Output") or "").splitlines()

    async def follow(self, instance: str) -> AsyncIterator[str]:
        await self._own(instance)
        group = getattr(self.settings, "logs_group", None)
        token: str | None = None
        seen = len(await self._console(instance)) if not group else 0
        while True:
            if group:
                params: dict[str, Any] = {"logGroupName": group, "logStreamName": instance}
                params |= {"nextToken": token} if token else {"startFromHead": False, "limit": 1}
                page = await self.api.call(
                    "logs", "get_log_events", f"log stream {instance} of {group}", **params
                )
                events = page.get("events", []) if token else []
                token = page.get("nextForwardToken") or token
                for event in events:
                    yield str(event.get("message", "")).rstrip("\n")
            else:
                lines = await self._console(instance)
                for line in lines[seen:]:
                    yield line
                seen = max(seen, len(lines))
            await asyncio.sleep(max(self.settings.poll_interval, 5.0))

    def _group_drift(self, record: GroupRecord) -> list[FileDrift]:
        """Group settings changed after launch: capacity, how health is judged."""
        if record.lifecycle is not Lifecycle.ACTIVE:
            return []  # still launching, or retiring: its capacity moves on purpose
        launched = {
            "MinSize": record.count,
            "MaxSize": record.count,
            "DesiredCapacity": record.count,
            "HealthCheckType": "ELB",
            "HealthCheckGracePeriod": self.settings.health.grace_period,
        }
        now = {**record.settings, "DesiredCapacity": record.desired}
        return [
            FileDrift(
                record.name, f"{key} {now.get(key)}, launched with {value}", FileChange.CHANGED
            )
            for key, value in launched.items()
            if key in now and now.get(key) is not None and now.get(key) != value
        ]

    async def operator(self) -> str:
        """The caller's ARN, as STS knows it: what the journal and the TUI header show."""
        if self._operator is None:
            identity = await self.api.call("sts", "get_caller_identity", "the caller's identity")
            self._operator = str(identity["Arn"])
        return self._operator

    async def close(self) -> None:
        await asyncio.to_thread(self.api.close)


def _instance_drift(instance: Mapping[str, Any], version: str, image: str) -> list[FileDrift]:
    """An instance drifts when EC2's own launch template tags or its AMI say it was not
    launched from the generation's launch template version."""
    instance_id = str(instance["InstanceId"])
    launched_from = naming.tag_map(instance.get("Tags")).get(TEMPLATE_VERSION_TAG)
    drift = []
    if launched_from is None:
        what = "not launched from the fleet's launch template"
        drift.append(FileDrift(instance_id, what, FileChange.ADDED))
    elif launched_from != version:
        what = f"launch template version {launched_from}, not {version}"
        drift.append(FileDrift(instance_id, what, FileChange.CHANGED))
    if image and instance.get("ImageId") != image:
        what = f"image {instance.get('ImageId')}, not {image}"
        drift.append(FileDrift(instance_id, what, FileChange.CHANGED))
    return drift
