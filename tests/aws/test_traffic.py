"""What real requests see on AWS: the ALB's CloudWatch metrics, put into moto as the ALB
would publish them, read once per minute for every generation at once."""

from __future__ import annotations

import pytest

from backends.core.model import GenerationSpec
from tests.aws.faults import install
from tests.aws.support import averaged_percentiles, put_alb_minute


async def test_error_rates_and_request_rates_come_from_the_albs_metrics(backend, world):
    backend.metrics.source = averaged_percentiles
    requests = install(backend)
    for version in ("v1", "v2-errors"):
        await backend.launch(GenerationSpec(version=version, count=1, artifact=world.image))
    good, bad = (await backend.snapshot()).generations
    put_alb_minute(world, good.extra["target_group"], requests=600, errors_5xx=2, latency_s=0.012)
    put_alb_minute(world, bad.extra["target_group"], requests=600, errors_5xx=180, latency_s=0.04)
    backend.metrics._fetched = float("-inf")  # the next minute's refresh, now
    requests.sent.clear()
    good, bad = (await backend.snapshot()).generations
    assert 0.20 <= bad.traffic.error_rate <= 0.40
    assert good.traffic.error_rate < 0.01
    assert good.traffic.rps == pytest.approx(10.0, rel=0.2)
    assert bad.traffic.p50_ms == pytest.approx(40.0)
    assert all(i.traffic is None for i in bad.instances)  # the ALB says nothing per target
    await backend.snapshot()
    assert requests.sent["GetMetricData"] == 1  # one call for all generations, per minute
