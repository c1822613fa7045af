"""Session-scoped real services for the tests, on free loopback ports.

Kafka: the broker named by KAFKA_BOOTSTRAP if set; else a testcontainers broker where a Docker
engine answers; else the project's own launcher (Maven Central jars, Java 17). Prometheus,
Alertmanager and VictoriaMetrics always come from the launcher (Debian packages).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.alerts import AlertReceiver

from core.kafka import ensure_topics
from core.settings import KafkaSettings, Settings, load_settings
from devmetrics.stack import Stack
from devmetrics.stack.process import free_port, port_in_use
from schemas.topics import Topics


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


# The session's monitoring stack runs two Prometheus servers, each scraping half of the
# exporter shards, as a scaled-out fleet does (docs/exporters.md).
SESSION_PROMETHEUS_SERVERS = 2


def _free_port_run(n: int) -> int:
    """A free port p such that p + 1 .. p + n - 1 are free too."""
    while True:
        first = free_port()
        if all(not port_in_use("127.0.0.1", first + i) for i in range(1, n)):
            return first


def _stack_settings(tmp: Path, prometheus_servers: int = 1) -> Settings:
    base = load_settings()
    ports = {
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "prometheus_port": _free_port_run(prometheus_servers),
        "alertmanager_port": free_port(),
        "victoriametrics_port": free_port(),
    }
    stack = base.stack.model_copy(
        update={
            "alert_webhook_url": f"http://127.0.0.1:{free_port()}/alerts",
            "home": tmp,
            "prometheus_scrape_interval": "2s",
            "kafka_heap": "768M",
            "prometheus_servers": prometheus_servers,
            **ports,
        }
    )
    return base.model_copy(update={"stack": stack})


@pytest.fixture(scope="session")
def test_stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _stack_settings(tmp_path_factory.mktemp("stack"), SESSION_PROMETHEUS_SERVERS)


@pytest.fixture(scope="session")
def kafka_bootstrap(test_stack_settings: Settings) -> Iterator[str]:
    """host:port of a real Kafka broker for the whole session."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    stack = Stack(test_stack_settings, only={"kafka"})
    stack.up()
    try:
        yield stack.component("kafka").endpoint.address
    finally:
        stack.down()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Kafka settings with a fresh topic prefix, its topics created: tests never share topics."""
    settings = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=4
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def topics(kafka_settings: KafkaSettings) -> Topics:
    return Topics(kafka_settings.topic_prefix)


@dataclass(frozen=True)
class MonitoringStack:
    prometheus_urls: list[str]
    """Every Prometheus server; server i scrapes the exporter shards s with s % n == i."""
    alertmanager_url: str
    victoriametrics_url: str
    targets_dir: Path
    alert_webhook_url: str
    stack: Stack | None = None
    """The components themselves, for tests that restart them."""

    @property
    def prometheus_url(self) -> str:
        """The first Prometheus server: the one that also scrapes processors."""
        return self.prometheus_urls[0]

    def add_targets(self, kind: str, name: str, addresses: list[str], shard: int = 0) -> None:
        """Register scrape targets through file service discovery, as an operator would.

        `kind` is `exporters` or `processors`: the shipped config's two file_sd jobs.
        Exporter targets carry the `shard` label that assigns them to a Prometheus server.
        """
        import json

        group: dict[str, Any] = {"targets": addresses}
        if kind == "exporters":
            group["labels"] = {"shard": str(shard)}
        path = self.targets_dir / f"{kind}-{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([group]))
        tmp.rename(path)


@contextlib.contextmanager
def _monitoring(settings: Settings) -> Iterator[MonitoringStack]:
    stack = Stack(settings, only={"victoriametrics", "alertmanager", "prometheus"})
    stack.up()
    prom = stack.component("prometheus")
    try:
        yield MonitoringStack(
            prometheus_urls=[p.endpoint.url for p in stack.prometheus_servers()],
            alertmanager_url=stack.component("alertmanager").endpoint.url,
            victoriametrics_url=stack.component("victoriametrics").endpoint.url,
            targets_dir=prom.targets_dir,  # type: ignore[attr-defined]
            alert_webhook_url=settings.stack.alert_webhook_url,
            stack=stack,
        )
    finally:
        stack.down()


@pytest.fixture(scope="session")
def monitoring_stack(test_stack_settings: Settings) -> Iterator[MonitoringStack]:
    """Real Prometheus, Alertmanager and VictoriaMetrics started from the shipped configs."""
    with _monitoring(test_stack_settings) as monitoring:
        yield monitoring


@pytest.fixture(scope="module")
def private_monitoring_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MonitoringStack]:
    """A monitoring stack of the module's own, for tests whose expectations depend on
    everything Prometheus holds (what is firing, which targets exist)."""
    with _monitoring(_stack_settings(tmp_path_factory.mktemp("private-stack"))) as monitoring:
        yield monitoring


@pytest.fixture
def unique() -> Callable[[str], str]:
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def alert_receiver(test_stack_settings: Settings) -> Iterator[AlertReceiver]:
    receiver = AlertReceiver(test_stack_settings.stack.alert_webhook_url)
    try:
        yield receiver
    finally:
        receiver.close()
