"""``molt apply`` on SSH puts HAProxy back to the desired state, unless that would leave
no server that is up carrying traffic where one carries it now (issue 18)."""

from __future__ import annotations

import pytest

from backends.core.errors import Refused
from backends.ssh.haproxy import ServerStat
from backends.ssh.state import FleetState, GenerationRecord, InstanceRecord
from backends.ssh.traffic import check_keeps_traffic


def state(g1: int, g2: int) -> FleetState:
    def generation(gen: str, weight: int) -> GenerationRecord:
        instance = InstanceRecord(f"{gen}-h-1", "deploy@h", "10.0.0.1", 9000)
        return GenerationRecord(gen, "v", 1, "", "", weight=weight, lifecycle="active",
                                instances=[instance])

    return FleetState("web", 3, [generation("g1", g1), generation("g2", g2)])


def stat(name: str, status: str, weight: int) -> ServerStat:
    return ServerStat(name, status, weight, 0, "L7OK", "200", 1.0, "", 10)


def test_putting_traffic_back_on_a_down_generation_is_refused():
    stats = {"g1-h-1": stat("g1-h-1", "UP", 256), "g2-h-1": stat("g2-h-1", "DOWN", 0)}
    with pytest.raises(Refused, match="no healthy server carrying traffic"):
        check_keeps_traffic(state(0, 100), stats)


@pytest.mark.parametrize("g2_status", ["UP", "UP 1/2"])
def test_putting_traffic_back_on_an_up_generation_is_allowed(g2_status):
    stats = {"g1-h-1": stat("g1-h-1", "UP", 256), "g2-h-1": stat("g2-h-1", g2_status, 0)}
    check_keeps_traffic(state(0, 100), stats)


def test_servers_lost_in_a_reload_may_always_come_back():
    check_keeps_traffic(state(100, 0), {})
