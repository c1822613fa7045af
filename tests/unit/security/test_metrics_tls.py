"""A processor's /metrics under the switch: only a client certificate from the authority gets in."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from core.security import client_context
from core.security.metrics import serve_metrics_tls
from core.security.provision import init_material
from devmetrics.stack.process import free_port

pytestmark = pytest.mark.unit


def test_metrics_need_a_client_certificate_signed_by_the_authority(tmp_path: Path) -> None:
    material, _ = init_material(tmp_path, datetime.now(UTC))
    registry = CollectorRegistry()
    Counter("devmetrics_probe", "A counter to find.", registry=registry).inc(3)
    port = free_port()
    server = serve_metrics_tls(registry, "127.0.0.1", port, material)
    url = f"https://127.0.0.1:{port}/metrics"
    try:
        trusted = client_context(
            material.ca_file, material.cert("prometheus"), material.key("prometheus")
        )
        with urllib.request.urlopen(url, timeout=5, context=trusted) as resp:
            assert "devmetrics_probe_total 3.0" in resp.read().decode()
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            urllib.request.urlopen(url, timeout=5, context=client_context(material.ca_file))
    finally:
        server.shutdown()
        server.server_close()
