"""Real parts for AWS tests: moto's server over HTTP on loopback, an ALB and listener
made the way an operator would make them, fake credentials, and the scripted target
health source (the seam documented in backends/aws/health.py and docs/aws.md).

Nothing here can reach real AWS: every client gets an ``endpoint_url`` on 127.0.0.1,
the credentials are fake and the instance metadata service is disabled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from backends.aws.health import TargetState, describe_target_health
from backends.aws.settings import AwsSettings, RetrySettings
from backends.config.fleet_config import FleetConfig

REGION = "eu-west-1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/molt-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/molt-test-aws-credentials",
}
CLEARED = (
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
)

_server_lock = threading.Lock()
_endpoint: str | None = None


@contextlib.contextmanager
def fake_aws_env() -> Iterator[None]:
    """Fake credentials for the duration; the previous environment comes back after."""
    saved = {k: os.environ.get(k) for k in (*FAKE_ENV, *CLEARED)}
    os.environ.update(FAKE_ENV)
    for key in CLEARED:
        os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def moto_endpoint() -> str:
    """One moto server per test process, on a free loopback port (started on first use,
    a daemon thread that ends with the process)."""
    global _endpoint
    with _server_lock:
        if _endpoint is None:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _endpoint = f"http://{host}:{port}"
        return _endpoint


def reset_moto(endpoint: str) -> None:
    """Forget every resource, so each test starts from an empty account."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass(frozen=True)
class World:
    """What an operator sets up before Molt's first launch: a VPC's subnets, a security
    group, an ALB and a listener whose default action Molt will own."""

    endpoint: str
    vpc_id: str
    subnets: tuple[str, ...]
    security_group: str
    load_balancer_arn: str
    listener_arn: str
    image: str
    other_image: str

    def client(self, service: str) -> Any:
        return client(self.endpoint, service)


def make_world(endpoint: str) -> World:
    ec2 = client(endpoint, "ec2")
    elbv2 = client(endpoint, "elbv2")
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0][
        "VpcId"
    ]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    subnet_ids = tuple(s["SubnetId"] for s in subnets[:2])
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)
    balancer = elbv2.create_load_balancer(
        Name="web", Subnets=list(subnet_ids), SecurityGroups=[group["GroupId"]]
    )["LoadBalancers"][0]
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]
    images = bake_images(ec2, "web-v1", "web-v2")
    return World(
        endpoint=endpoint,
        vpc_id=vpc_id,
        subnets=subnet_ids,
        security_group=group["GroupId"],
        load_balancer_arn=balancer["LoadBalancerArn"],
        listener_arn=listener["ListenerArn"],
        image=images[0],
        other_image=images[1],
    )


def bake_images(ec2: Any, *names: str) -> list[str]:
    """AMIs of our own, baked from a builder instance as a release pipeline would
    (listing moto's stock AMIs takes most of a second)."""
    stock = "ami-12c6146b"  # one of moto's built-in images
    builder = ec2.run_instances(ImageId=stock, MinCount=1, MaxCount=1)["Instances"][0]
    images = [ec2.create_image(InstanceId=builder["InstanceId"], Name=n)["ImageId"] for n in names]
    ec2.terminate_instances(InstanceIds=[builder["InstanceId"]])
    return images


def aws_settings(world: World, **overrides: Any) -> AwsSettings:
    """Settings for a fleet in ``world``, fast enough for tests."""
    values: dict[str, Any] = {
        "region": REGION,
        "endpoint_url": world.endpoint,
        "listener_arn": world.listener_arn,
        "vpc_id": world.vpc_id,
        "subnets": world.subnets,
        "security_groups": (world.security_group,),
        "image": world.image,
        "count": 2,
        "port": 8080,
        "deregistration_delay": 0,
        "poll_interval": 0.2,
        "retry": RetrySettings(max_attempts=3, connect_timeout=2.0, read_timeout=10.0),
        **overrides,
    }
    return AwsSettings(**values)


def aws_fleet(world: World, name: str = "web", **overrides: Any) -> FleetConfig:
    return FleetConfig(
        name=name, backend="aws", settings=aws_settings(world, **overrides), source="test"
    )


def molt_toml(world: World, path: Path, name: str = "web", **extra: Any) -> Path:
    """A molt.toml for the real binary, pointing at moto over HTTP."""
    lines = [
        f"[fleets.{name}]",
        'backend = "aws"',
        f'region = "{REGION}"',
        f'endpoint_url = "{world.endpoint}"',
        f'listener_arn = "{world.listener_arn}"',
        f'vpc_id = "{world.vpc_id}"',
        f"subnets = {list(world.subnets)!r}".replace("'", '"'),
        f'security_groups = ["{world.security_group}"]',
        "count = 2",
        "port = 8080",
        "deregistration_delay = 0",
        "poll_interval = 0.2",
        *(f"{key} = {value!r}".replace("'", '"') for key, value in extra.items()),
        f"[fleets.{name}.retry]",
        "max_attempts = 2",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ScriptedTargetHealth:
    """The test side of the target health seam: asks moto (the real
    ``DescribeTargetHealth`` call, so API call counts stay true), then overrides what
    moto cannot show. A target is ``initial`` for ``pending_for`` seconds after it is
    first seen; then a generation whose version ends in ``-bad`` is ``unhealthy``, and
    ``states`` (instance id → state) overrides single targets — reporting them even once
    moto has forgotten them, as the ALB does while a deregistered target drains."""

    pending_for: float = 1.0
    states: dict[str, str] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(
        self, elbv2: Any, target_group_arn: str, version: str
    ) -> Mapping[str, TargetState]:
        real = describe_target_health(elbv2, target_group_arn, version)
        now = time.monotonic()
        scripted = {}
        with self.lock:
            for instance_id, state in real.items():
                seen = self.first_seen.setdefault(instance_id, now)
                scripted[instance_id] = self._script(instance_id, state, version, now - seen)
            for instance_id, state_name in self.states.items():
                scripted.setdefault(instance_id, TargetState(state_name, "Scripted"))
        return scripted

    def _script(self, instance_id: str, real: TargetState, version: str, age: float) -> TargetState:
        if instance_id in self.states:
            return TargetState(self.states[instance_id], "Scripted", "set by the test")
        if age < self.pending_for:
            return TargetState(
                "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
            )
        if version.endswith("-bad"):
            return TargetState(
                "unhealthy",
                "Target.ResponseCodeMismatch",
                "Health checks failed with these codes: [500]",
            )
        return real


def averaged_percentiles(cloudwatch: Any, **request: Any) -> Mapping[str, Any]:
    """The test side of the metrics seam: the same ``GetMetricData`` call against moto,
    with percentile statistics asked as averages (moto stores the datapoints the test
    puts, as the ALB would, but cannot compute percentiles)."""
    queries = []
    for query in request["MetricDataQueries"]:
        stat = query["MetricStat"]["Stat"]
        if stat.startswith("p"):
            query = {**query, "MetricStat": {**query["MetricStat"], "Stat": "Average"}}
        queries.append(query)
    answer: Mapping[str, Any] = cloudwatch.get_metric_data(
        **{**request, "MetricDataQueries": queries}
    )
    return answer


def put_alb_minute(
    world: World, target_group_arn: str, *, requests: int, errors_5xx: int, latency_s: float
) -> None:
    """One minute of an ALB's metrics for one target group, as AWS would publish them."""
    from datetime import UTC, datetime, timedelta

    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    dimensions = [
        {
            "Name": "TargetGroup",
            "Value": "targetgroup/" + target_group_arn.split(":targetgroup/")[1],
        },
        {
            "Name": "LoadBalancer",
            "Value": "app/" + world.listener_arn.split(":listener/app/")[1].rsplit("/", 1)[0],
        },
    ]
    world.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "RequestCount",
                "Dimensions": dimensions,
                "Timestamp": minute,
                "Value": requests,
                "Unit": "Count",
            },
            {
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Dimensions": dimensions,
                "Timestamp": minute,
                "Value": errors_5xx,
                "Unit": "Count",
            },
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": dimensions,
                "Timestamp": minute,
                "Value": latency_s,
                "Unit": "Seconds",
            },
        ],
    )


async def serve_as_the_alb(
    world: World,
    metrics: Any,
    error_rates: Mapping[str, float],
    stop: Any,
    *,
    per_second: int = 600,
    latency_s: float = 0.012,
    seed: int = 1,
) -> None:
    """Until ``stop`` (an ``asyncio.Event``) is set: real-looking traffic as the ALB
    counts it — every tenth of a second, ``per_second / 10`` requests shared by the
    listener's current weights, each failing with ``error_rates[generation id]`` (0 if
    not given), added to the current minute's CloudWatch sums; and ``metrics`` (the
    backend's :class:`~backends.aws.metrics.Metrics`) reads CloudWatch again at its next
    read, as if the minute had passed."""
    import asyncio
    import random

    elbv2 = world.client("elbv2")
    rng = random.Random(seed)

    def publish() -> None:
        listener = elbv2.describe_listeners(ListenerArns=[world.listener_arn])["Listeners"][0]
        forward = listener["DefaultActions"][0].get("ForwardConfig") or {"TargetGroups": []}
        for group in forward["TargetGroups"]:
            arn, weight = group["TargetGroupArn"], group.get("Weight", 0)
            generation = arn.split(":targetgroup/")[1].split("/")[0].rsplit("-", 1)[1]
            requests = sum(rng.random() < weight / 100 for _ in range(per_second // 10))
            rate = error_rates.get(generation, 0.0)
            errors = sum(rng.random() < rate for _ in range(requests))
            if requests:
                put_alb_minute(
                    world, arn, requests=requests, errors_5xx=errors, latency_s=latency_s
                )

    while not stop.is_set():
        await asyncio.to_thread(publish)
        metrics._fetched = float("-inf")  # the next read fetches the sums anew
        await asyncio.sleep(0.1)
