"""``molt init``: a commented molt.toml for each backend, the required keys set to
placeholders to replace, the optional ones commented out at their defaults. Each one
loads with the same loader as any molt.toml (a test keeps it so)."""

from __future__ import annotations

ROLLOUT = """
# The plan `molt rollout` and the TUI's R follow (docs/configuration.md):
# [fleets.{fleet}.rollout]
# steps = [10, 25, 50, 100]          # percent of the traffic, ending at 100
# bake = 60                          # seconds at least at each step; 3x it at most
# max_error_increase = 0.005         # 5xx over the baseline's by more aborts
# max_p99_ratio = 1.5                # slower than the baseline's p99 x this aborts
"""

LOCAL = """\
# molt.toml: a local fleet. Processes on this machine behind Molt's own proxy.
# Every key: docs/local.md. Then: `molt status {fleet}`, `molt` for the TUI.

[fleets.{fleet}]
listen = "127.0.0.1:9000"            # the proxy: the fleet's traffic entry point
artifact = "."                       # the directory to freeze (here); each generation gets a copy
start = "{{python}} server.py --port {{port}}"   # run in the frozen copy; {{port}} is required
# count = 2                          # instances per generation
# drain_timeout = 30                 # seconds a retiring generation may finish requests

# [fleets.{fleet}.health]
# path = "/healthz"                  # GET; 2xx/3xx passes
# interval = 1.0                     # seconds between checks
# start_period = 60                  # failures before the first pass do not count this long
"""

SSH = """\
# molt.toml: an SSH fleet. Hosts reached over SSH, traffic through HAProxy's runtime API.
# The hosts and HAProxy need setting up first: docs/ssh.md#setting-up-hosts-and-haproxy.

[fleets.{fleet}]
backend = "ssh"
hosts = ["deploy@10.0.0.11", "deploy@10.0.0.12"]   # user@host[:port]; replace with yours
artifact = "."                       # the directory to freeze (here); launch --artifact overrides
start = "python3 app.py --port {{port}} --host {{address}}"
# known_hosts = "~/.ssh/known_hosts" # host keys are always verified
# identity = "~/.ssh/molt_deploy"    # default: the SSH agent and ~/.ssh keys
# count = 1                          # instances per host
# base_dir = "/srv/molt"

[fleets.{fleet}.lb]
host = "deploy@10.0.0.10"            # where HAProxy runs
socket = "/run/haproxy/admin.sock"   # its admin socket, on that host
backend = "{fleet}"                  # the HAProxy backend holding this fleet's servers
"""

AWS = """\
# molt.toml: an AWS fleet. One Auto Scaling group and target group per generation,
# traffic by the weights of one ALB listener you create first (docs/aws.md).

[fleets.{fleet}]
backend = "aws"
region = "eu-west-1"
listener_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/50dc6c/f2f7dc"
vpc_id = "vpc-0a1b2c3d4e5f60718"
subnets = ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"]
# image = "ami-0abcdef1234567890"    # a default; `molt launch --image` overrides it
# profile = "deploy"                 # else the standard credential chain
# instance_type = "t3.small"
# count = 3
# port = 8080

# [fleets.{fleet}.health]
# path = "/healthz"
"""

EXAMPLES = {"local": LOCAL, "ssh": SSH, "aws": AWS}
DEFAULT = "local"  # a fleet without `backend =` is local


def example(backend: str, fleet: str) -> str:
    """The commented molt.toml for one ``fleet`` on ``backend``."""
    return (EXAMPLES[backend] + ROLLOUT).format(fleet=fleet)
