"""The secured stack (security switch on): every hop TLS with verified certificates and
authenticated, ACLs per role, and the refusals of clients without, or with wrong, credentials
or with a certificate from an untrusted authority."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr
from support.secured import Secured, secured_stack

from core.kafka import client_config
from core.security import BasicAuth, Material, basic_auth_header, role_env
from core.security.tls import server_context
from core.security.web import WEB_USERS
from core.settings import KafkaSettings
from exporters.runner import ShardOptions, ShardRunner
from producers.publisher import Publisher
from schemas.codec import Codec

pytestmark = pytest.mark.integration

T = 1_772_366_400_000  # 2026-03-01 12:00 UTC: the processor's fixed as-of time
H = 3_600_000
PERSON = "Grace Hopper <grace@example.org>"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    with secured_stack(tmp_path_factory.mktemp("secured")) as stack:
        yield stack


class _Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _refused(conf: dict[str, Any]) -> str:
    """What the client logs while the broker refuses it; fails the test when it answers."""
    captured = _Captured()
    logger = logging.getLogger(f"refusal-{uuid.uuid4().hex}")
    logger.addHandler(captured)
    logger.propagate = False
    errors: list[str] = []
    admin = AdminClient(
        conf
        | {
            "socket.connection.setup.timeout.ms": 3000,
            "logger": logger,
            "error_cb": lambda err: errors.append(err.str()),
        }
    )
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=6)
    admin.poll(0.5)  # serves the queued log lines
    return " | ".join(captured.lines + errors)


def test_kafka_refuses_a_client_without_credentials(secured: Secured) -> None:
    plain = {"bootstrap.servers": secured.kafka("admin").bootstrap}
    assert "brokers are down" in _refused(plain)  # no plaintext listener answers
    # Verified TLS, but no SASL login.
    tls_only = client_config(secured.kafka("admin").model_copy(update={"security_protocol": "SSL"}))
    assert "brokers are down" in _refused(tls_only)


def test_kafka_refuses_a_wrong_password(secured: Secured) -> None:
    wrong = secured.kafka("producer").model_copy(update={"sasl_password": SecretStr("wrong")})
    assert "Authentication failed" in _refused(client_config(wrong))


def test_kafka_refuses_when_its_certificate_is_not_trusted(secured: Secured) -> None:
    untrusting = secured.kafka("producer").model_copy(update={"ssl_ca_file": secured.untrusted_ca})
    assert "certificate verify failed" in _refused(client_config(untrusting))


def _produce(kafka: KafkaSettings, topic: str) -> KafkaError | None:
    results: list[KafkaError | None] = []
    producer = Producer(client_config(kafka) | {"message.timeout.ms": 10_000})
    producer.produce(topic, b"x", b"k", on_delivery=lambda err, msg: results.append(err))
    producer.flush(15)
    assert len(results) == 1
    return results[0]


def _consume_error(kafka: KafkaSettings, topic: str, group: str) -> int | None:
    """The error code a reader of partition 0 of `topic` gets (None if it may read)."""
    consumer = Consumer(client_config(kafka) | {"group.id": group, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + 15
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None or error.code() == KafkaError._PARTITION_EOF:
                return None
            return int(error.code())
    finally:
        consumer.close()
    pytest.fail(f"no answer reading {topic}")


def test_acls_confine_each_role(secured: Secured) -> None:
    topics = secured.topics
    producer, exporter = secured.kafka("producer"), secured.kafka("exporter")
    assert _produce(producer, topics.events("deployment")) is None
    denied = _produce(producer, topics.state)
    assert denied is not None and denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # The producer may use no consumer group at all, so it is stopped at the group already.
    assert _consume_error(producer, topics.events("deployment"), "producer-probe") in (
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    )
    # The exporter may not even see an event topic (no Describe, hence no Read).
    meta = AdminClient(client_config(exporter)).list_topics(topics.events("deployment"), timeout=10)
    error = meta.topics[topics.events("deployment")].error
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    exporter_group = f"{topics.state}.exporter-probe"
    denied = _produce(exporter, topics.state)
    assert denied is not None and denied.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert _consume_error(exporter, topics.state, exporter_group) is None


def _get(
    url: str, ca: Path | None, auth: str | None = None, context: ssl.SSLContext | None = None
) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", auth)
    ctx = context or (ssl.create_default_context(cafile=str(ca)) if ca else None)
    try:
        with urllib.request.urlopen(request, timeout=5, context=ctx) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _assert_refusals(url: str, material: Material, untrusted: Path, user: str) -> None:
    good = basic_auth_header(user, material.secret("http", user))
    assert _get(url, material.ca_file, good) == 200
    assert _get(url, material.ca_file) == 401
    assert _get(url, material.ca_file, basic_auth_header(user, "wrong")) == 401
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(url, untrusted, good)
    plain = url.replace("https://", "http://", 1)
    # Plain HTTP to the TLS port: a 400 or a closed connection, never an answer.
    with contextlib.suppress(urllib.error.URLError, ConnectionError):
        assert _get(plain, None, good) == 400


@pytest.mark.parametrize(
    ("component", "path", "user"),
    [
        ("prometheus", "/api/v1/status/buildinfo", "operator"),
        ("alertmanager", "/api/v2/status", "operator"),
        ("victoriametrics", "/api/v1/labels", "victoriametrics"),
    ],
)
def test_monitoring_services_refuse_unauthenticated_and_untrusting_clients(
    secured: Secured, component: str, path: str, user: str
) -> None:
    _assert_refusals(secured.url(component) + path, secured.material, secured.untrusted_ca, user)


def _shard(secured: Secured, sd_file: Path | None = None) -> ShardRunner:
    material = secured.material
    options = ShardOptions(
        port=0,
        sd_file=sd_file,
        tls=server_context(material.cert("exporter"), material.key("exporter")),
        auth=BasicAuth.from_passwords({u: material.secret("http", u) for u in WEB_USERS}),
    )
    return ShardRunner(secured.kafka("exporter"), options, Codec.default())


def test_shard_refuses_unauthenticated_and_untrusting_clients(secured: Secured) -> None:
    runner = _shard(secured)
    runner.start()
    try:
        url = f"https://{runner.address}/metrics"
        _assert_refusals(url, secured.material, secured.untrusted_ca, "prometheus")
    finally:
        runner.stop()


def _processor(secured: Secured, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    kafka = secured.kafka("processor")
    env = {
        **os.environ,
        **role_env(secured.material, "processor"),
        "DEVMETRICS_KAFKA__BOOTSTRAP": kafka.bootstrap,
        "DEVMETRICS_KAFKA__TOPIC_PREFIX": secured.topics.prefix,
        "DEVMETRICS_KAFKA__PARTITIONS": "4",
    }
    command = [
        sys.executable,
        "-c",
        "from devmetrics.cli import main; main()",
        "process",
        "--app-id",
        secured.app_id,
        "--data-dir",
        str(data_dir),
        "--web-port",
        "0",
        "--metrics-port",
        "0",
        "--as-of",
        str(T),
        "--snapshot-interval",
        "0.5",
    ]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _query(url: str, user: str, material: Material, promql: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": promql, "latency_offset": "1s", "nocache": "1"})
    request = urllib.request.Request(f"{url}/api/v1/query?{query}")
    request.add_header("Authorization", basic_auth_header(user, material.secret("http", user)))
    context = ssl.create_default_context(cafile=str(material.ca_file))
    with urllib.request.urlopen(request, timeout=5, context=context) as resp:
        result: list[dict[str, Any]] = json.load(resp)["data"]["result"]
    return result


def _wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _deployment(project: str, t: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "project_id": project,
        "occurred_at": t,
        "source": "ci",
        "actor": {"kind": "human", "name": PERSON, "model": None},
        "type": "finished",
        "deployment_id": f"d-{t}",
        "environment": "production",
        "status": "success",
        "kind": "planned",
    }


def test_end_to_end_over_tls_and_auth_without_identities_in_clear(
    secured: Secured, tmp_path: Path
) -> None:
    project = f"secure-{uuid.uuid4().hex[:6]}"
    with Publisher(secured.kafka("producer")) as publisher:
        for i in range(3):
            publisher.publish("deployment", _deployment(project, T - (i + 1) * H))

    # A copy of the topic (read here as the admin) holds pseudonyms, never the person.
    raw = Consumer(
        client_config(secured.kafka("admin"))
        | {"group.id": f"raw-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
    )
    raw.subscribe([secured.topics.events("deployment")])
    values: list[bytes] = []
    deadline = time.monotonic() + 20
    while len(values) < 3 and time.monotonic() < deadline:
        message = raw.poll(0.5)
        if message is not None and message.error() is None and message.key() == project.encode():
            value = message.value()
            assert value is not None
            values.append(value)
    raw.close()
    assert len(values) == 3
    codec = Codec.default()
    names = {codec.decode(v).record["actor"]["name"] for v in values}
    assert len(names) == 1 and next(iter(names)).startswith("person-")
    assert not any(b"Grace" in v or b"grace@example.org" in v for v in values)

    worker = _processor(secured, tmp_path / "processor", tmp_path / "processor.log")
    prom = secured.stack.component("prometheus")
    runner = _shard(secured, sd_file=prom.targets_dir / "exporters-secure.json")
    runner.start()
    try:
        shard_url = f"https://{runner.address}/metrics"
        auth = basic_auth_header("prometheus", secured.material.secret("http", "prometheus"))
        context = ssl.create_default_context(cafile=str(secured.material.ca_file))

        def served() -> bool:
            request = urllib.request.Request(shard_url, headers={"Authorization": auth})
            with urllib.request.urlopen(request, timeout=5, context=context) as resp:
                body = resp.read().decode()
            return f'devmetrics_dora_deployments{{project="{project}",window="1d"}} 3' in body

        _wait_for(served, 120, "the shard to serve the project's deployments")
        promql = f'devmetrics_dora_deployments{{project="{project}",window="1d"}}'
        in_prom = _wait_for(
            lambda: _query(prom.endpoint.url, "operator", secured.material, promql),
            60,
            "Prometheus to scrape the shard over TLS with basic auth",
        )
        assert in_prom[0]["value"][1] == "3"
        in_vm = _wait_for(
            lambda: _query(
                secured.url("victoriametrics"), "victoriametrics", secured.material, promql
            ),
            90,
            "the sample to reach VictoriaMetrics through remote_write",
        )
        assert in_vm[0]["value"][1] == "3"
    finally:
        runner.stop()
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
