"""molt.toml for AWS fleets, and the names Molt gives AWS resources."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backends.aws import naming
from backends.aws.settings import AwsSettings, RetrySettings, TargetHealthCheck
from backends.config.loading import load_config
from backends.core.errors import ConfigError

EXAMPLE = """
[fleets.web]
backend = "aws"
region = "eu-west-1"
profile = "deploy"
listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/50dc6c/f2f7dc"
vpc_id = "vpc-0a1b2c3d4e5f60718"
subnets = ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"]
security_groups = ["sg-0123456789abcdef0"]
instance_type = "t3.small"
image = "ami-0abcdef1234567890"
key_name = "ops"
instance_profile = "web-instance"
user_data = "boot.sh"
count = 3
port = 8080
deregistration_delay = 20
poll_interval = 5

[fleets.web.health]
path = "/healthz"
interval = 10
timeout = 5
healthy_threshold = 3
unhealthy_threshold = 2

[fleets.web.retry]
max_attempts = 6
"""


def write(tmp_path: Path, text: str) -> str:
    (tmp_path / "boot.sh").write_text("#!/bin/sh\nexec /opt/web/run\n")
    path = tmp_path / "molt.toml"
    path.write_text(text)
    return str(path)


def test_the_documented_example_parses(tmp_path):
    fleet = load_config(write(tmp_path, EXAMPLE)).fleet("web")
    settings = fleet.settings
    assert fleet.backend == "aws"
    assert settings.subnets == ("subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f")
    assert settings.user_data == tmp_path / "boot.sh"
    assert (settings.health.interval, settings.retry.max_attempts) == (10, 6)
    assert settings.endpoint_url is None
    assert settings.entry == "app/web/50dc6c/f2f7dc"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("count = 3", "count = 0"), "count must be 1–1000, not 0"),
        (('listener_arn = "arn', 'listener_arn = "x'), "listener_arn must be an ALB listener ARN"),
        (("interval = 10", "interval = 2"), "health.interval must be 5–300 seconds"),
        (("max_attempts = 6", "max_attempts = 0"), "retry.max_attempts must be 1–20"),
        (('user_data = "boot.sh"', 'user_data = "gone.sh"'), "user_data .*gone.sh is not a file"),
        (("port = 8080", "prot = 8080"), r"unknown key fleets.web.prot"),
        (('region = "eu-west-1"\n', ""), "missing key fleets.web.region"),
    ],
)
def test_mistakes_are_named(tmp_path, change, message):
    text = EXAMPLE.replace(*change)
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_target_group_names_fit_alb_and_never_collide():
    assert naming.target_group_name("web", 3) == "molt-web-g3"
    long_a = naming.target_group_name("payments-reconciliation-worker", 1234)
    long_b = naming.target_group_name("payments-reconciliation-worker-eu", 1234)
    for name in (long_a, long_b, naming.target_group_name("api_v2.internal", 1)):
        assert len(name) <= 32
        assert re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", name), name
    assert long_a != long_b
    assert long_a == naming.target_group_name("payments-reconciliation-worker", 1234)
    assert long_a.endswith("-g1234")
    assert naming.target_group_name("api_v2", 1) != naming.target_group_name("api-v2", 1)


# issue 9: no nan, no inf, whatever the way in ------------------------------------------


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("poll_interval = 5", "poll_interval = nan"), "fleets.web.poll_interval"),
        (("poll_interval = 5", "retire_timeout = inf"), "fleets.web.retire_timeout"),
        (("max_attempts = 6", "connect_timeout = nan"), "fleets.web.retry.connect_timeout"),
        (("max_attempts = 6", "read_timeout = -inf"), "fleets.web.retry.read_timeout"),
        (("poll_interval = 5", "poll_interval = 1" + "0" * 400), "fleets.web.poll_interval"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path, change, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, EXAMPLE.replace(*change)))
    assert caught.value.message.startswith(f"{key} must be a finite number")
    assert caught.value.exit_code == 2


BASE = {
    "region": "eu-west-1",
    "listener_arn": "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/web/1/2",
    "vpc_id": "vpc-1",
    "subnets": ("subnet-1",),
}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AwsSettings(**BASE, poll_interval=float("nan")), "poll_interval must be more"),
        (lambda: AwsSettings(**BASE, retire_timeout=float("inf")), "retire_timeout must be more"),
        (lambda: RetrySettings(connect_timeout=float("nan")), "retry.connect_timeout must be"),
        (lambda: RetrySettings(read_timeout=float("inf")), "retry.read_timeout must be"),
        (lambda: TargetHealthCheck(grace_period=float("nan")), "health.grace_period must be"),
        (lambda: TargetHealthCheck(interval=float("nan")), "health.interval must be"),
        (lambda: TargetHealthCheck(path="/up\r\n"), "health.path must be a URL path"),
    ],
)
def test_settings_made_directly_refuse_nan_and_inf(make, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make()
