"""Names and tags of a fleet's AWS resources. Every resource Molt creates carries the
``molt:fleet`` tag, so generations are rediscovered from AWS alone and IAM can scope
Molt's mutating actions to its own resources."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

FLEET = "molt:fleet"
GENERATION = "molt:generation"
VERSION = "molt:version"
LAUNCHED_BY = "molt:launched-by"
NOTE = "molt:note"
IMAGE = "molt:image"
COUNT = "molt:count"
WEIGHT = "molt:weight"  # mirrors the listener, so one refresh needs no listener read
LIFECYCLE = "molt:lifecycle"  # launching | active | failed | draining
#: yes | no: whether the listener also forwards to target groups Molt did not make (the
#: external generation ``g0``); mirrors the listener like the weights
EXTERNAL = "molt:external"

TARGET_GROUP_NAME_MAX = 32
TAG_VALUE_MAX = 256
JOURNAL_STREAM = "journal"

_NOT_NAME = re.compile(r"[^A-Za-z0-9-]+")
# ELBv2 tag values allow only letters, digits, spaces and these characters
_NOT_ELB_TAG = re.compile(r"[^\w .:/=+\-@]+")


def _digest(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def target_group_name(fleet: str, number: int) -> str:
    """``molt-<fleet>-g<N>``; when that is over 32 characters (or the fleet name has
    characters ALB refuses) the fleet part is cut and a hash of the whole name keeps
    it unique — the same fleet and generation always give the same name."""
    suffix = f"-g{number}"
    clean = _NOT_NAME.sub("-", fleet).strip("-")
    name = f"molt-{clean}{suffix}"
    if len(name) <= TARGET_GROUP_NAME_MAX and clean == fleet:
        return name
    tail = f"-{_digest(fleet)}{suffix}"
    room = TARGET_GROUP_NAME_MAX - len("molt-") - len(tail)
    head = clean[:room].strip("-")
    return f"molt-{head}{tail}" if head else f"molt{tail}"


def group_name(fleet: str, number: int) -> str:
    """The generation's Auto Scaling group (names may be up to 255 characters)."""
    clean = _NOT_NAME.sub("-", fleet)
    base = f"molt-{clean}" if clean == fleet else f"molt-{clean}-{_digest(fleet)}"
    return f"{base}-g{number}"


def template_name(fleet: str) -> str:
    """The fleet's launch template: one version per generation, kept for history."""
    clean = re.sub(r"[^A-Za-z0-9().\-/_]+", "-", fleet)
    return f"molt-{clean}" if clean == fleet else f"molt-{clean}-{_digest(fleet)}"


def log_group_name(fleet: str) -> str:
    """The fleet's journal in CloudWatch Logs."""
    clean = re.sub(r"[^A-Za-z0-9_\-/.#]+", "-", fleet)
    return f"/molt/{clean}" if clean == fleet else f"/molt/{clean}-{_digest(fleet)}"


def elb_tag_value(value: str) -> str:
    """A value ELBv2 accepts as a tag (it refuses most punctuation)."""
    return _NOT_ELB_TAG.sub("_", value)[:TAG_VALUE_MAX]


def tag_value(value: str) -> str:
    return value[:TAG_VALUE_MAX]


@dataclass(frozen=True, slots=True)
class GenerationTags:
    """What a generation's tags say about it."""

    fleet: str
    generation: str
    version: str
    launched_by: str
    note: str = ""
    image: str = ""
    count: int = 0

    def identity(self) -> dict[str, str]:
        """The tags every resource of the generation carries."""
        return {
            FLEET: self.fleet,
            GENERATION: self.generation,
            VERSION: self.version,
            LAUNCHED_BY: self.launched_by,
        }

    def for_group(self, weight: int, lifecycle: str) -> dict[str, str]:
        return {
            **self.identity(),
            NOTE: self.note,
            IMAGE: self.image,
            COUNT: str(self.count),
            WEIGHT: str(weight),
            LIFECYCLE: lifecycle,
        }


#: tags an Auto Scaling group copies onto the instances it launches
PROPAGATED = frozenset({FLEET, GENERATION, VERSION, LAUNCHED_BY})


def group_tags(name: str, tags: Mapping[str, str]) -> list[dict[str, object]]:
    """``CreateOrUpdateTags``/``CreateAutoScalingGroup`` form."""
    return [
        {
            "ResourceId": name,
            "ResourceType": "auto-scaling-group",
            "Key": key,
            "Value": tag_value(value),
            "PropagateAtLaunch": key in PROPAGATED,
        }
        for key, value in tags.items()
    ]


def elb_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": elb_tag_value(value)} for key, value in tags.items()]


def tag_map(tags: object) -> dict[str, str]:
    """``[{"Key": k, "Value": v}, …]`` → ``{k: v}``."""
    if not isinstance(tags, list):
        return {}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags if isinstance(t, dict)}
