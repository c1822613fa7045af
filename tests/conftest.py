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

from devmetrics.kafka_admin import ensure_topics
from devmetrics.settings import KafkaSettings, Settings, load_settings
from devmetrics.stack import Stack
from devmetrics.stack.process import free_port
from schemas.topics import Topics


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _stack_settings(tmp: Path) -> Settings:
    base = load_settings()
    ports = {
        "kafka_port": free_port(),
        "kafka_controller_port": free_port(),
        "prometheus_port": free_port(),
        "alertmanager_port": free_port(),
        "victoriametrics_port": free_port(),
    }
    stack = base.stack.model_copy(
        update={
            "alert_webhook_url": f"http://127.0.0.1:{free_port()}/alerts",
            "home": tmp,
            "prometheus_scrape_interval": "1s",
            "kafka_heap": "768M",
            **ports,
        }
    )
    return base.model_copy(update={"stack": stack})


@pytest.fixture(scope="session")
def test_stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _stack_settings(tmp_path_factory.mktemp("stack"))


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
    prometheus_url: str
    alertmanager_url: str
    victoriametrics_url: str
    targets_dir: Path
    alert_webhook_url: str

    def add_targets(self, kind: str, name: str, addresses: list[str]) -> None:
        """Register scrape targets through file service discovery, as an operator would.

        `kind` is `exporters` or `processors`: the shipped config's two file_sd jobs.
        """
        import json

        path = self.targets_dir / f"{kind}-{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": addresses}]))
        tmp.rename(path)


@contextlib.contextmanager
def _monitoring(settings: Settings) -> Iterator[MonitoringStack]:
    stack = Stack(settings, only={"victoriametrics", "alertmanager", "prometheus"})
    stack.up()
    prom = stack.component("prometheus")
    try:
        yield MonitoringStack(
            prometheus_url=prom.endpoint.url,
            alertmanager_url=stack.component("alertmanager").endpoint.url,
            victoriametrics_url=stack.component("victoriametrics").endpoint.url,
            targets_dir=prom.targets_dir,  # type: ignore[attr-defined]
            alert_webhook_url=settings.stack.alert_webhook_url,
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


class AlertReceiver:
    """The local webhook that Alertmanager's `webhook` receiver posts to: keeps every alert."""

    def __init__(self, url: str) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlparse

        self.alerts: list[dict[str, Any]] = []
        received = self.alerts
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    received.extend(json.loads(body).get("alerts", []))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        parsed = urlparse(url)
        self.server = ThreadingHTTPServer(
            (parsed.hostname or "127.0.0.1", parsed.port or 80), Handler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in list(self.alerts) if a.get("status") == "firing"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def alert_receiver(test_stack_settings: Settings) -> Iterator[AlertReceiver]:
    receiver = AlertReceiver(test_stack_settings.stack.alert_webhook_url)
    try:
        yield receiver
    finally:
        receiver.close()
