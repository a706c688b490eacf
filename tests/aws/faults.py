"""Faults AWS would produce and moto does not: answers injected at botocore's
``before-send`` hook, so the driver's real retry and error paths run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any):
        yield self.data


def error_response(
    url: str, status: int, code: str, message: str, ec2: bool = False
) -> AWSResponse:
    """An AWS query-protocol error answer (EC2 has its own envelope)."""
    if ec2:
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>molt-test</RequestID></Response>"
        )
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>molt-test</RequestId></ErrorResponse>"
        )
    return AWSResponse(url, status, {"Content-Type": "text/xml"}, _Body(body.encode()))


@dataclass
class Faults:
    """Answers ``operation`` (e.g. ``"ModifyListener"``) with an error, ``times``
    times (``None``: always). ``sent`` counts every request that reached the hook."""

    rules: dict[str, tuple[int, str, str, int | None]] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def fail(self, operation: str, code: str, status: int = 400, message: str = "injected",
             times: int | None = None) -> None:
        self.rules[operation] = (status, code, message, times)

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.sent[operation] += 1
        rule = self.rules.get(operation)
        if rule is None:
            return None
        status, code, message, times = rule
        if times is not None and self.failed[operation] >= times:
            return None
        self.failed[operation] += 1
        return error_response(request.url, status, code, message, ec2=".ec2." in event_name)


def install(backend: Any) -> Faults:
    """Hook into every client ``backend`` makes from now on."""
    faults = Faults()
    backend.api.session.events.register("before-send", faults)
    return faults
