"""A secured stack (security switch on) of its own on free ports, for integration and e2e tests.

Kafka SASL_SSL with a SCRAM user and ACLs per role; Prometheus, Alertmanager and
VictoriaMetrics behind TLS and basic auth; fresh key material, and an untrusted CA besides.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.security import Material, init_material
from core.security.pki import make_ca
from core.settings import KafkaSettings, load_settings
from devmetrics.stack import Stack
from devmetrics.stack.process import free_port
from schemas.topics import Topics


@dataclass(frozen=True)
class Secured:
    """A running secured stack, its key material and the names its ACLs were made for."""

    stack: Stack
    material: Material
    untrusted_ca: Path
    topics: Topics
    app_id: str

    def kafka(self, role: str) -> KafkaSettings:
        return self.stack.kafka_settings_for(role)

    def url(self, component: str) -> str:
        return self.stack.component(component).endpoint.url


@contextmanager
def secured_stack(root: Path, partitions: int = 4) -> Iterator[Secured]:
    """Start a secured stack under `root` with a unique topic prefix and processor app id."""
    material, _ = init_material(root / "security", datetime.now(UTC))
    other = make_ca("someone else's CA", datetime.now(UTC))
    untrusted = root / "untrusted-ca.crt"
    untrusted.write_bytes(other.cert_pem)
    base = load_settings()
    suffix = uuid.uuid4().hex[:8]
    settings = base.model_copy(
        update={
            "stack": base.stack.model_copy(
                update={
                    "home": root / "stack",
                    "kafka_port": free_port(),
                    "kafka_controller_port": free_port(),
                    "prometheus_port": free_port(),
                    "alertmanager_port": free_port(),
                    "victoriametrics_port": free_port(),
                    "prometheus_scrape_interval": "1s",
                    "kafka_heap": "512M",
                    "alert_webhook_url": f"http://127.0.0.1:{free_port()}/alerts",
                }
            ),
            "kafka": base.kafka.model_copy(
                update={"topic_prefix": f"sec{suffix}", "partitions": partitions}
            ),
            "processor": base.processor.model_copy(update={"app_id": f"sec-processor-{suffix}"}),
            "security": base.security.model_copy(update={"enabled": True, "dir": material.root}),
        }
    )
    stack = Stack(settings)
    stack.up()
    try:
        yield Secured(stack, material, untrusted, Topics(f"sec{suffix}"), f"sec-processor-{suffix}")
    finally:
        stack.down()
