"""A processor's /metrics under the security switch: HTTPS that only clients with a certificate
signed by the stack's authority (Prometheus) may read."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from core.errors import listening
from core.security.material import Material


def serve_metrics_tls(registry: CollectorRegistry, host: str, port: int, material: Material) -> Any:
    """Serve the registry on https://host:port/metrics from a daemon thread, mutual TLS."""
    server, _thread = listening(
        host,
        port,
        "the processor's /metrics",
        lambda: start_http_server(
            port,
            addr=host,
            registry=registry,
            certfile=str(material.cert("processor")),
            keyfile=str(material.key("processor")),
            client_cafile=str(material.ca_file),
            client_auth_required=True,
        ),
    )
    return server
