"""The parts of one SSH fleet that launching and retiring work with: its settings, the
kept connections, the hosts, the LB host's store and HAProxy — a narrow context, so
those helpers need not know the driver."""

from __future__ import annotations

from dataclasses import dataclass

from backends.ssh.connections import HostPool
from backends.ssh.haproxy import Haproxy
from backends.ssh.hosts import Hosts
from backends.ssh.settings import HostAddress, SshSettings
from backends.ssh.state import LbStore


@dataclass(frozen=True, slots=True)
class FleetParts:
    name: str
    settings: SshSettings
    pool: HostPool
    hosts: Hosts
    store: LbStore
    haproxy: Haproxy

    def label(self, host: HostAddress) -> str:
        """How instances name their host: the address, or address:port when two hosts
        share an address."""
        addresses = [h.address for h in self.settings.host_addresses]
        return host.address if addresses.count(host.address) <= 1 else host.display

    def placement(self, count: int | None) -> list[HostAddress]:
        """The host of each instance: ``count`` in total, spread over the hosts in turn;
        by default the fleet's ``count`` on every host."""
        hosts = list(self.settings.host_addresses)
        total = count if count is not None else self.settings.count * len(hosts)
        return [hosts[index % len(hosts)] for index in range(total)]
