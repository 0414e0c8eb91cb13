"""A StatsD server on loopback UDP: it keeps every metric line Airflow's metrics backend sends."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class Metric:
    """One line of the StatsD protocol with InfluxDB-style tags: `name,k=v,...:value|type`."""

    name: str
    tags: dict[str, str]
    value: float
    type: str

    @classmethod
    def parse(cls, line: str) -> Metric:
        head, rest = line.split(":", 1)
        value, kind = rest.split("|")[:2]
        name, *pairs = head.split(",")
        return cls(name, dict(pair.split("=", 1) for pair in pairs), float(value), kind)


@dataclass
class StatsdServer:
    host: str
    port: int
    lines: list[str] = field(default_factory=list)

    def metrics(self, name: str, **tags: str) -> list[Metric]:
        found = [Metric.parse(line) for line in self.lines]
        return [m for m in found if m.name == name and all(m.tags.get(k) == v for k, v in tags.items())]

    def total(self, name: str, **tags: str) -> float:
        return sum(m.value for m in self.metrics(name, **tags))

    def settle(self, quiet_s: float = 0.3) -> None:
        """Wait until no datagram arrived for `quiet_s` (UDP gives no receipt to wait on)."""
        seen = -1
        while seen != len(self.lines):
            seen = len(self.lines)
            time.sleep(quiet_s)


def _serve(sock: socket.socket, server: StatsdServer) -> None:
    while True:
        try:
            data = sock.recv(65535)
        except OSError:  # closed
            return
        server.lines.extend(line for line in data.decode().splitlines() if line)


@pytest.fixture
def statsd_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdServer]:
    """StatsD on 127.0.0.1 with Airflow's [metrics] pointed at it (tags on, InfluxDB style), and
    the metrics backend initialised the way the task runner does at a task's start."""
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    server = StatsdServer("127.0.0.1", sock.getsockname()[1])
    threading.Thread(target=_serve, args=(sock, server), daemon=True).start()
    for key, value in {
        "STATSD_ON": "True",
        "STATSD_HOST": server.host,
        "STATSD_PORT": str(server.port),
        "STATSD_PREFIX": "airflow",
        "STATSD_INFLUXDB_ENABLED": "True",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", value)
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    try:
        yield server
    finally:
        from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger

        stats.initialize(factory=NoStatsLogger, export_legacy_names=False)
        sock.close()
