"""The real ``molt`` binary against moto's server over HTTP (``endpoint_url`` in
molt.toml; the ALB and listener made by the test), checked against AWS with boto3."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from tests.aws.support import World, molt_toml
from tests.support.local import molt, molt_json, molt_process

pytestmark = pytest.mark.slow


def listener_weights(world: World) -> dict[str, int]:
    listener = world.client("elbv2").describe_listeners(ListenerArns=[world.listener_arn])
    groups = listener["Listeners"][0]["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"].split("/")[-2]: g["Weight"] for g in groups}


def fleet_in_aws(world: World) -> dict[str, dict]:
    """generation → what AWS itself says about it."""
    groups = world.client("autoscaling").describe_auto_scaling_groups(
        Filters=[{"Name": "tag:molt:fleet", "Values": ["web"]}]
    )["AutoScalingGroups"]
    weights = listener_weights(world)
    found = {}
    for group in groups:
        tags = {t["Key"]: t["Value"] for t in group["Tags"]}
        found[tags["molt:generation"]] = {
            "version": tags["molt:version"],
            "weight": weights[group["AutoScalingGroupName"]],
            "instances": sorted(i["InstanceId"] for i in group["Instances"]),
        }
    return found


def ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def assert_one_line(done, *phrases: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, done.stderr


def test_launch_shift_promote_retire_through_the_cli(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")

    def run(*args: str):
        return molt(tmp_path, *args, config=config)

    assert ok(run("launch", "web", "--version", "v1", "--image", world.image, "--wait")) == "g1"
    assert ok(run("promote", "web", "g1")) == "g1=100"
    assert ok(run("launch", "web", "--version", "v2", "--image", world.other_image,
                  "--note", "new checkout")) == "g2"
    assert ok(run("shift", "web", "g1=50", "g2=50")) == "g1=50 g2=50"
    assert listener_weights(world) == {"molt-web-g1": 50, "molt-web-g2": 50}
    assert ok(run("promote", "web", "g2")) == "g1=0 g2=100"
    assert ok(run("retire", "web", "g1")) == "g1 retired"
    autoscaling, elbv2 = world.client("autoscaling"), world.client("elbv2")
    assert autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=["molt-web-g1"])["AutoScalingGroups"] == []
    assert [t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]] == [
        "molt-web-g2"
    ]
    status = molt_json(tmp_path, "status", "web", config=config)
    assert status["backend"] == "aws"
    shown = {
        g["id"]: {"version": g["version"], "weight": g["weight"],
                  "instances": sorted(i["id"] for i in g["instances"])}
        for g in status["generations"]
    }
    assert shown == fleet_in_aws(world)
    assert status["generations"][0]["note"] == "new checkout"
    assert status["generations"][0]["artifact"] == world.other_image
    history = molt_json(tmp_path, "history", "web", config=config)["records"]
    assert [r["action"] for r in history] == [
        "launch", "promote", "launch", "shift", "promote", "retire"
    ]
    assert {r["operator"] for r in history} == {"arn:aws:sts::123456789012:user/moto"}


def test_a_nonexistent_ami_is_one_line_naming_it(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    done = molt(tmp_path, "launch", "web", "--version", "v1", "--image", "ami-0123456789abcdef0",
                config=config)
    assert_one_line(done, "molt: AMI ami-0123456789abcdef0 in eu-west-1: not found", "--image")


def test_a_missing_listener_is_one_line_naming_it(world, tmp_path):
    missing = world.listener_arn.rsplit("/", 1)[0] + "/0000000000000000"
    config = molt_toml(world, tmp_path / "molt.toml")
    config.write_text(config.read_text().replace(world.listener_arn, missing))
    done = molt(tmp_path, "launch", "web", "--version", "v1", "--image", world.image,
                config=config)
    assert_one_line(done, f"listener {missing}: not found", "listener_arn in molt.toml")


class _Denied(http.server.BaseHTTPRequestHandler):
    """An AWS endpoint that refuses everything, as IAM would without a policy."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>"
            b"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: "
            b"autoscaling:DescribeAutoScalingGroups</Message></Error>"
            b"<RequestId>1</RequestId></ErrorResponse>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def denying_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Denied)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_access_denied_is_one_line_naming_the_call(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    with denying_endpoint() as endpoint:
        config.write_text(config.read_text().replace(world.endpoint, endpoint))
        done = molt(tmp_path, "status", "web", config=config)
    assert_one_line(
        done,
        "molt: AWS denied DescribeAutoScalingGroups on the Auto Scaling groups of fleet web",
        "is not authorized to perform: autoscaling:DescribeAutoScalingGroups",
        "IAM policy",
    )


def test_logs_show_the_instances_console_output(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    ok(molt(tmp_path, "launch", "web", "--version", "v1", "--image", world.image,
            "--count", "1", "--wait", config=config))
    instance = molt_json(tmp_path, "status", "web", config=config)["generations"][0]["instances"][0]
    shown = ok(molt(tmp_path, "logs", "web", instance["id"], "--lines", "5", config=config))
    assert len(shown.splitlines()) == 5  # moto's console output: a kernel's boot lines
    first = ok(molt(tmp_path, "logs", "web", "g1", "--lines", "1000", config=config))
    assert first.startswith("Linux version")


def test_logs_from_a_cloudwatch_logs_group_show_and_follow_new_lines(world, tmp_path):
    group = "/apps/web"
    config = molt_toml(world, tmp_path / "molt.toml", logs_group=group)
    ok(molt(tmp_path, "launch", "web", "--version", "v1", "--image", world.image,
            "--count", "1", "--wait", config=config))
    instance = molt_json(tmp_path, "status", "web", config=config)["generations"][0]["instances"][0]
    logs = world.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=instance["id"])

    def prints(*lines: str) -> None:
        at = int(time.time() * 1000)
        events = [{"timestamp": at + n, "message": line} for n, line in enumerate(lines)]
        logs.put_log_events(logGroupName=group, logStreamName=instance["id"], logEvents=events)

    prints("web v1 starting", "web v1 listening on :8080")
    shown = ok(molt(tmp_path, "logs", "web", instance["id"], "--lines", "1", config=config))
    assert shown == "web v1 listening on :8080"
    following = molt_process(tmp_path, "logs", "web", instance["id"], "--lines", "0", "-f",
                             config=config)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(following.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        for n in itertools.count(1):  # until the follower shows one (it polls every 5 s)
            prints(f"GET /orders/{n} 500")
            time.sleep(1)
            if any(line.startswith("GET /orders/") for line in seen):
                break
            assert following.poll() is None, following.stderr.read()
            assert time.monotonic() < deadline, "molt logs -f never showed a new line"
    finally:
        following.terminate()
        following.wait(timeout=10)
    reader.join(timeout=10)
    assert not any("listening" in line for line in seen)  # --lines 0: only what came after


def test_a_group_changed_by_hand_is_drift_and_taints_the_generation(world, tmp_path):
    config = molt_toml(world, tmp_path / "molt.toml")
    ok(molt(tmp_path, "launch", "web", "--version", "v1", "--image", world.image,
            "--count", "1", "--wait", config=config))
    assert molt(tmp_path, "verify", "web", config=config).returncode == 0
    world.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="molt-web-g1", MaxSize=3, HealthCheckType="EC2"
    )
    done = molt(tmp_path, "verify", "web", config=config)
    assert done.returncode == 1
    assert "g1: molt-web-g1: changed MaxSize 3, launched with 1" in done.stdout
    assert "g1: molt-web-g1: changed HealthCheckType EC2, launched with ELB" in done.stdout
    generation = molt_json(tmp_path, "status", "web", config=config)["generations"][0]
    drift = "molt-web-g1: changed MaxSize 3, launched with 1"
    assert generation["tainted"] and drift in generation["drift"]
