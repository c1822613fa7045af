"""The receiver's HTTP endpoint under the security switch: HTTPS with the stack's authority,
basic auth on /metrics, bounded bodies, and refusals that reach no broker (the sink here only
records what it is given)."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.receiver import RULES, SECRETS, github_headers

from core.security import (
    BasicAuth,
    basic_auth_header,
    client_context,
    init_material,
    server_context,
)
from devmetrics.stack.process import free_port
from producers.receiver import ReceiverService, ReceiverTelemetry
from producers.receiver.server import make_server
from schemas.codec import Codec
from schemas.topics import Topics

pytestmark = pytest.mark.unit


class RecordingSink:
    """Keeps what would be produced; nothing here talks to Kafka."""

    def __init__(self) -> None:
        self.codec = Codec.default()
        self.topics = Topics("t")
        self.produced: list[Any] = []

    def publish(self, family: str, event: Any, *, on_delivery: Any = None) -> None:
        self.produced.append((family, event))

    def publish_raw(
        self, topic: str, key: Any, value: bytes, headers: Any = None, *, on_delivery: Any = None
    ) -> None:
        self.produced.append((topic, value))

    def poll(self, timeout_s: float = 0.0) -> int:
        return 0


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext, str, RecordingSink]]:
    material, _ = init_material(tmp_path / "security", datetime.now(UTC))
    sink = RecordingSink()
    service = ReceiverService(sink, RULES, SECRETS, ReceiverTelemetry())
    password = material.secret("http", "prometheus")
    server = make_server(
        service,
        "127.0.0.1",
        free_port(),
        max_body_bytes=4096,
        tls=server_context(material.cert("exporter"), material.key("exporter")),
        metrics_auth=BasicAuth.from_passwords({"prometheus": password}),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"https://127.0.0.1:{server.server_address[1]}",
            client_context(material.ca_file),
            basic_auth_header("prometheus", password),
            sink,
        )
    finally:
        server.shutdown()
        server.server_close()
        service.close()


def _call(
    url: str,
    context: ssl.SSLContext,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_https_with_basic_auth_on_metrics_only(
    secured: tuple[str, ssl.SSLContext, str, RecordingSink],
) -> None:
    url, context, auth, _ = secured
    assert _call(f"{url}/healthz", context) == 200
    assert _call(f"{url}/metrics", context) == 401
    assert _call(f"{url}/metrics", context, headers={"Authorization": auth}) == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/healthz", timeout=10, context=ssl.create_default_context())


def test_refusals_produce_nothing(secured: tuple[str, ssl.SSLContext, str, RecordingSink]) -> None:
    url, context, _, sink = secured
    body = json.dumps({"repository": {"full_name": "o/r"}, "commits": []}).encode()
    forged = github_headers("push", "d-1", body, secret=b"guess")
    assert _call(f"{url}/webhooks/github", context, body, forged) == 401
    big = b"{" + b" " * 5000 + b"}"
    assert _call(f"{url}/webhooks/github", context, big, github_headers("push", "d-2", big)) == 413
    assert _call(f"{url}/webhooks/other", context, body, {}) == 404
    assert (
        _call(f"{url}/webhooks/github", context, body, github_headers("push", "d-3", body)) == 202
    )
    assert sink.produced == []


class RefusingSink(RecordingSink):
    """The broker refuses every dead letter, as an ACL without WRITE on the topic does."""

    def publish_raw(
        self, topic: str, key: Any, value: bytes, headers: Any = None, *, on_delivery: Any = None
    ) -> None:
        self.produced.append((topic, dict(headers or [])))
        on_delivery(_Refusal(), _Message(topic))


class _Refusal:
    def str(self) -> str:
        return "Broker: Topic authorization failed"


class _Message:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic


def test_a_dead_letter_the_broker_refuses_answers_503_so_the_sender_retries() -> None:
    sink = RefusingSink()
    service = ReceiverService(sink, RULES, SECRETS, ReceiverTelemetry(), publish_timeout_s=5)
    body = b'{"ref": "refs/heads/main", "commits": ['
    headers = {k.lower(): v for k, v in github_headers("push", "d-9", body).items()}
    response = service.handle("github", headers, body)
    assert (response.status, response.body["reason"]) == (503, "malformed_json")
    [(topic, headers)] = sink.produced
    assert topic == "t.deadletter" and headers["dlq.delivery_id"] == b"d-9"
    registry = service.telemetry.registry
    refused = {"source": "github", "reason": "dead_letter_failed"}
    assert registry.get_sample_value("devmetrics_receiver_rejected_total", refused) == 1
    kept = {"source": "github", "reason": "malformed_json"}
    assert registry.get_sample_value("devmetrics_receiver_dead_letters_total", kept) is None
    service.close()
