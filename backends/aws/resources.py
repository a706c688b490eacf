"""The AWS resources of one fleet, one call each: its generations' Auto Scaling groups,
their target groups, the listener whose default action Molt owns, the launch template."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from backends.aws import naming
from backends.aws.api import AwsApi
from backends.aws.reading import GroupRecord, fleet_records, forward_action, stickiness
from backends.aws.settings import AwsSettings
from backends.core.deadline import Deadline
from backends.core.errors import NotFound, OperationFailed, Refused
from backends.core.model import GenerationSpec

TEMPLATE_MISSING = ("InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateId")
TEMPLATE_EXISTS = "InvalidLaunchTemplateName.AlreadyExistsException"


class FleetResources:
    """Reads and changes one fleet's resources; errors come out translated."""

    def __init__(self, api: AwsApi, fleet: str, settings: AwsSettings) -> None:
        self.api = api
        self.fleet = fleet
        self.settings = settings

    # reading ---------------------------------------------------------------------------
    async def groups(self) -> list[GroupRecord]:
        """Every generation of the fleet: one paginated ``DescribeAutoScalingGroups``."""
        groups = await self.api.pages(
            "autoscaling",
            "describe_auto_scaling_groups",
            "AutoScalingGroups",
            f"the Auto Scaling groups of fleet {self.fleet}",
            Filters=[{"Name": f"tag:{naming.FLEET}", "Values": [self.fleet]}],
        )
        return fleet_records(groups, self.fleet)

    async def group(self, generation: str) -> GroupRecord:
        for record in await self.groups():
            if record.generation == generation:
                return record
        raise NotFound(
            f"fleet {self.fleet} has no generation {generation}; see `molt status {self.fleet}`"
        )

    async def listener(self) -> Mapping[str, Any]:
        arn = self.settings.listener_arn
        response = await self.api.call(
            "elbv2", "describe_listeners", f"listener {arn}", ListenerArns=[arn]
        )
        listeners = response.get("Listeners") or []
        if not listeners:
            raise NotFound(f"listener {arn} not found; check listener_arn in molt.toml")
        found: Mapping[str, Any] = listeners[0]
        return found

    async def addresses(self, instance_ids: Sequence[str]) -> dict[str, str]:
        """Private IPs of instances (one paginated ``DescribeInstances``)."""
        return {
            str(i["InstanceId"]): str(i.get("PrivateIpAddress") or "")
            for i in await self.instances(instance_ids)
        }

    async def instances(self, instance_ids: Sequence[str]) -> list[Mapping[str, Any]]:
        if not instance_ids:
            return []
        reservations = await self.api.pages(
            "ec2",
            "describe_instances",
            "Reservations",
            f"the instances of fleet {self.fleet}",
            Filters=[{"Name": "instance-id", "Values": list(instance_ids)}],
        )
        return [i for r in reservations for i in r.get("Instances", [])]

    async def check_image(self, image: str) -> None:
        """A nonexistent AMI fails here, naming it, before anything is created."""
        what = f"AMI {image} in {self.settings.region}"
        found = await self.api.call("ec2", "describe_images", what, ImageIds=[image])
        if not found.get("Images"):
            raise NotFound(f"{what}: not found; check --image (or image in molt.toml)")

    async def check_subnets(self) -> None:
        subnets = list(self.settings.subnets)
        what = f"subnets {', '.join(subnets)} in {self.settings.region}"
        found = await self.api.call("ec2", "describe_subnets", what, SubnetIds=subnets)
        missing = set(subnets) - {s["SubnetId"] for s in found.get("Subnets", [])}
        if missing:
            raise NotFound(f"subnet {sorted(missing)[0]} not found; check subnets in molt.toml")

    async def target_group_by_name(self, name: str) -> str | None:
        def work() -> str | None:
            try:
                found = self.api.client("elbv2").describe_target_groups(Names=[name])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "TargetGroupNotFound":
                    return None
                raise
            groups = found.get("TargetGroups") or []
            return str(groups[0]["TargetGroupArn"]) if groups else None

        return await self.api.run(work, f"target group {name}")

    # the listener ----------------------------------------------------------------------
    async def set_forward(
        self,
        listener: Mapping[str, Any],
        entries: Sequence[tuple[str, int]],
        *,
        otherwise: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Forward to ``entries`` by weight. ALB refuses a forward to no target group:
        without entries the default action becomes ``otherwise`` (what it was before a
        launch that is being undone) or a fixed 503 saying the fleet has no generation.

        ``listener`` is the listener as the caller read it: it is read again right
        before the change, and if anyone changed it meanwhile nothing is written."""
        arn = self.settings.listener_arn
        now = await self.listener()
        if now.get("DefaultActions") != listener.get("DefaultActions"):
            raise Refused(
                f"listener {arn} was changed by someone else while Molt was changing it; "
                f"nothing was written — see `molt status {self.fleet}` and try again"
            )
        if entries:
            actions: list[Any] = forward_action(entries, stickiness(listener))
        elif otherwise:
            actions = [dict(action) for action in otherwise]
        else:
            actions = [no_generation_action(self.fleet)]
        await self.api.call(
            "elbv2", "modify_listener", f"listener {arn}", ListenerArn=arn, DefaultActions=actions
        )

    # the launch template ---------------------------------------------------------------
    async def new_template_version(self, image: str, spec: GenerationSpec) -> int:
        """A new version of the fleet's launch template (made on the first launch) for
        ``image``. Its number is the generation's: AWS never reuses version numbers, so
        generation ids are never reused either, even after their groups are gone."""
        name = naming.template_name(self.fleet)
        data = self.template_data(image)
        description = f"{spec.version} by {spec.launched_by}".strip()[:255]
        tags = [{"Key": naming.FLEET, "Value": naming.tag_value(self.fleet)}]

        def work() -> int:
            ec2 = self.api.client("ec2")
            for _ in range(2):
                try:
                    made = ec2.create_launch_template_version(
                        LaunchTemplateName=name,
                        VersionDescription=description,
                        LaunchTemplateData=data,
                    )
                    number = int(made["LaunchTemplateVersion"]["VersionNumber"])
                    # the newest generation's version is the default: what a person sees
                    # first in the console (and what moto launches, whatever we ask)
                    ec2.modify_launch_template(LaunchTemplateName=name, DefaultVersion=str(number))
                    return number
                except ClientError as error:
                    if not str(error.response["Error"]["Code"]).startswith(TEMPLATE_MISSING):
                        raise
                try:
                    made = ec2.create_launch_template(
                        LaunchTemplateName=name,
                        VersionDescription=description,
                        LaunchTemplateData=data,
                        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}],
                    )
                    return int(made["LaunchTemplate"]["LatestVersionNumber"])
                except ClientError as error:
                    if error.response["Error"]["Code"] != TEMPLATE_EXISTS:
                        raise  # else another Molt made it just now: add a version to it
            raise OperationFailed(f"could not add a version to launch template {name}")

        return await self.api.run(work, f"launch template {name}")

    def template_data(self, image: str) -> dict[str, Any]:
        settings = self.settings
        data: dict[str, Any] = {
            "ImageId": image,
            "InstanceType": settings.instance_type,
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        }
        if settings.security_groups:
            data["SecurityGroupIds"] = list(settings.security_groups)
        if settings.key_name:
            data["KeyName"] = settings.key_name
        if settings.instance_profile:
            key = "Arn" if settings.instance_profile.startswith("arn:") else "Name"
            data["IamInstanceProfile"] = {key: settings.instance_profile}
        if settings.user_data is not None:
            data["UserData"] = base64.b64encode(settings.user_data.read_bytes()).decode()
        return data

    # groups and target groups ----------------------------------------------------------
    async def tag_group(self, name: str, tags: Mapping[str, str]) -> None:
        await self.tag_groups({name: tags})

    async def tag_groups(self, tags: Mapping[str, Mapping[str, str]]) -> None:
        """One ``CreateOrUpdateTags`` for several groups at once."""
        if not tags:
            return
        entries = [t for name, values in tags.items() for t in naming.group_tags(name, values)]
        await self.api.call(
            "autoscaling",
            "create_or_update_tags",
            f"the Auto Scaling groups {', '.join(tags)}",
            Tags=entries,
        )

    async def delete_target_group(self, arn: str) -> None:
        def work() -> None:
            try:
                self.api.client("elbv2").delete_target_group(TargetGroupArn=arn)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TargetGroupNotFound":
                    raise

        await self.api.run(work, f"target group {arn}")

    async def delete_group(self, name: str) -> None:
        """Delete an Auto Scaling group and its instances (force: no scale-in first)."""

        def work() -> None:
            try:
                self.api.client("autoscaling").delete_auto_scaling_group(
                    AutoScalingGroupName=name, ForceDelete=True
                )
            except ClientError as error:
                message = str(error.response.get("Error", {}).get("Message", ""))
                if "not found" not in message:  # already gone is what we want
                    raise

        await self.api.run(work, f"Auto Scaling group {name}")

    async def wait_group_gone(self, name: str, timeout: float, every: float) -> None:
        async for _ in Deadline(timeout).every(every):
            found = await self.api.call(
                "autoscaling",
                "describe_auto_scaling_groups",
                f"Auto Scaling group {name}",
                AutoScalingGroupNames=[name],
            )
            if not found.get("AutoScalingGroups"):
                return
        raise OperationFailed(
            f"Auto Scaling group {name} is still being deleted after {timeout:.0f} s; "
            "AWS finishes it on its own — see `molt status`"
        )


def no_generation_action(fleet: str) -> dict[str, Any]:
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": {
            "StatusCode": "503",
            "ContentType": "text/plain",
            "MessageBody": f"fleet {fleet} has no generation (molt)",
        },
    }


def without(entries: Iterable[tuple[str, int]], arns: Iterable[str]) -> list[tuple[str, int]]:
    drop = set(arns)
    return [(arn, weight) for arn, weight in entries if arn not in drop]
