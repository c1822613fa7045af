"""The receiver over HTTP on a real broker: signed webhooks become events, forged ones publish
nothing, redeliveries keep their event ids, bad input is dead-lettered, and CDEvents sent by
the CDEvents Java SDK (binary and structured mode) arrive as events."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from support.receiver import (
    CDEVENTS_TOKEN,
    TOKEN,
    GoSender,
    JavaSender,
    RunningReceiver,
    github_examples,
    github_headers,
    pagerduty_signature,
    post,
    running_receiver,
)
from support.webhook_payloads import DEPLOYMENT, TRIGGERED

from core.kafka import client_config
from core.settings import KafkaSettings
from schemas.codec import Codec
from schemas.topics import Topics

pytestmark = pytest.mark.integration
CODEC = Codec.default()
FAMILIES = ("change", "review", "deployment", "incident", "test", "task")


@pytest.fixture
def receiver(kafka_settings: KafkaSettings) -> Iterator[RunningReceiver]:
    with running_receiver(kafka_settings, max_body_bytes=256 * 1024) as running:
        yield running


def consume(kafka: KafkaSettings, topics: list[str], idle_s: float = 3.0) -> list[Any]:
    """Every message of `topics` from the start, until none came for `idle_s`."""
    consumer = Consumer(
        {**client_config(kafka), "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(kafka.partitions)])
    out: list[Any] = []
    last = time.monotonic()
    while time.monotonic() - last < idle_s:
        batch = [m for m in consumer.consume(500, timeout=0.5) if m.error() is None]
        if batch:
            out += batch
            last = time.monotonic()
    consumer.close()
    return out


def events(kafka: KafkaSettings) -> list[dict[str, Any]]:
    topics = Topics(kafka.topic_prefix)
    messages = consume(kafka, [topics.events(f) for f in FAMILIES])
    decoded = []
    for m in messages:
        d = CODEC.decode(m.value())
        assert m.key() == d.record["project_id"].encode()
        decoded.append(d.record | {"family": d.family})
    return decoded


def _push() -> bytes:
    push = next(e for e in github_examples()["push"] if e["commits"])
    return json.dumps(push).encode()


def test_a_signed_push_is_published_once_even_when_redelivered(
    receiver: RunningReceiver, kafka_settings: KafkaSettings
) -> None:
    body = _push()
    headers = github_headers("push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body)
    status, answer = post(receiver.webhook("github"), body, headers)
    assert status == 200 and answer["status"] == "published", answer
    again_status, again = post(receiver.webhook("github"), body, headers)
    assert again_status == 200 and again["event_ids"] == answer["event_ids"]
    published = events(kafka_settings)
    assert [e["event_id"] for e in published] == answer["event_ids"] * 2
    commit = json.loads(body)["commits"][0]
    assert published[0]["change_id"] == commit["id"]
    assert published[0]["project_id"] == "Codertocat/Hello-World"


def test_forged_or_unsigned_webhooks_are_refused_and_publish_nothing(
    receiver: RunningReceiver, kafka_settings: KafkaSettings
) -> None:
    body = _push()
    forged = github_headers("push", "d-1", body, secret=b"guess")
    assert post(receiver.webhook("github"), body, forged)[0] == 401
    unsigned = {k: v for k, v in forged.items() if k != "X-Hub-Signature-256"}
    assert post(receiver.webhook("github"), body, unsigned)[0] == 401
    assert post(receiver.webhook("gitlab"), body, {"X-Gitlab-Token": "nope"})[0] == 401
    assert post(receiver.webhook("pagerduty"), body, {"X-PagerDuty-Signature": "v1=00"})[0] == 401
    assert post(receiver.webhook("cdevents"), body, {"Authorization": "Bearer x"})[0] == 401
    topics = Topics(kafka_settings.topic_prefix)
    assert consume(kafka_settings, [*(topics.events(f) for f in FAMILIES), topics.deadletter]) == []
    rejected = receiver.service.telemetry.registry.get_sample_value(
        "devmetrics_receiver_rejected_total", {"source": "github", "reason": "bad_signature"}
    )
    assert rejected == 1


def test_authentic_bad_input_is_refused_counted_and_dead_lettered(
    receiver: RunningReceiver, kafka_settings: KafkaSettings
) -> None:
    bad = b'{"ref": "refs/heads/main", "commits": ['
    status, answer = post(receiver.webhook("github"), bad, github_headers("push", "d-2", bad))
    assert (status, answer["reason"]) == (400, "malformed_json")
    ping = json.dumps({"zen": "Keep it logically awesome."}).encode()
    status, answer = post(receiver.webhook("github"), ping, github_headers("ping", "d-3", ping))
    assert (status, answer["status"], answer["reason"]) == (202, "ignored", "unused_event_type")
    huge = b"{" + b" " * (300 * 1024) + b"}"
    assert post(receiver.webhook("github"), huge, github_headers("push", "d-4", huge))[0] == 413
    [letter] = consume(kafka_settings, [Topics(kafka_settings.topic_prefix).deadletter])
    headers = dict(letter.headers())
    assert letter.value() == bad
    assert headers["dlq.reason"] == b"malformed_json" and headers["dlq.delivery_id"] == b"d-2"
    assert headers["dlq.topic"] == b"webhook:github"
    telemetry = receiver.service.telemetry.registry
    assert (
        telemetry.get_sample_value(
            "devmetrics_receiver_dead_letters_total",
            {"source": "github", "reason": "malformed_json"},
        )
        == 1
    )
    with urllib.request.urlopen(f"{receiver.url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert 'devmetrics_receiver_requests_total{source="github",status="413"} 1.0' in text
    assert (
        'devmetrics_receiver_ignored_total{reason="unused_event_type",source="github"} 1.0' in text
    )


def test_gitlab_and_pagerduty_webhooks_are_published(
    receiver: RunningReceiver, kafka_settings: KafkaSettings
) -> None:
    body = json.dumps(DEPLOYMENT).encode()
    gitlab_headers = {
        "X-Gitlab-Event": "Deployment Hook",
        "X-Gitlab-Token": TOKEN.decode(),
        "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e",
    }
    assert post(receiver.webhook("gitlab"), body, gitlab_headers)[0] == 200
    body = json.dumps(TRIGGERED).encode()
    signature = {"X-PagerDuty-Signature": pagerduty_signature(body)}
    assert post(receiver.webhook("pagerduty"), body, signature)[0] == 200
    got = {(e["family"], e["type"], e["project_id"]) for e in events(kafka_settings)}
    assert got == {
        ("deployment", "finished", "mike/diaspora"),
        ("incident", "opened", "API Service"),
    }


def test_cdevents_from_the_java_sdk_arrive_in_binary_and_structured_mode(
    receiver: RunningReceiver, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    sender = JavaSender(tmp_path)
    sent = []
    for mode in ("binary", "structured"):
        sent += sender.send(
            receiver.webhook("cdevents"), CDEVENTS_TOKEN.decode(), "shop", mode, mode
        )
    assert len(sent) == 16 and {s["status"] for s in sent} == {200}, sent
    published = events(kafka_settings)
    kinds = sorted((e["family"], e["type"], e.get("kind") or "") for e in published)
    expected = sorted(
        [
            ("change", "merged", ""),
            ("review", "completed", ""),
            ("deployment", "finished", "planned"),
            ("deployment", "finished", "hotfix"),
            ("deployment", "finished", "rollback"),
            ("incident", "opened", ""),
            ("incident", "resolved", ""),
            ("test", "run_completed", ""),
        ]
        * 2
    )
    assert kinds == expected
    assert {e["change_id"] for e in published if e["family"] == "change"} == {
        "change-binary",
        "change-structured",
    }
    planned = _deployments_linked_by_id(published)
    test_run = next(e for e in published if e["family"] == "test")
    assert (test_run["passed"], test_run["failed"], test_run["skipped"]) == (120, 2, 3)
    assert all(e["project_id"] == "shop" and e["environment"] == "production" for e in planned)


def test_cdevents_0_5_from_the_go_sdk_arrive_in_binary_and_structured_mode(
    receiver: RunningReceiver, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    sender = GoSender(tmp_path)
    sent = []
    for mode in ("binary", "structured"):
        sent += sender.send(
            receiver.webhook("cdevents"), CDEVENTS_TOKEN.decode(), "shop", mode, mode
        )
    assert len(sent) == 22 and {s["status"] for s in sent} == {200}, sent
    assert {s["type"].rsplit(".", 3)[0] for s in sent} >= {"dev.cdevents.ticket.closed"}
    published = events(kafka_settings)
    kinds = sorted((e["family"], e["type"], e.get("kind") or "") for e in published)
    expected = sorted(
        [
            ("task", "created", ""),
            ("task", "started", ""),
            ("task", "completed", ""),
            ("change", "merged", ""),
            ("review", "completed", ""),
            ("deployment", "finished", "planned"),
            ("deployment", "finished", "hotfix"),
            ("deployment", "finished", "rollback"),
            ("incident", "opened", ""),
            ("incident", "resolved", ""),
            ("test", "run_completed", ""),
        ]
        * 2
    )
    assert kinds == expected
    tasks = [e for e in published if e["family"] == "task"]
    assert {e["task_id"] for e in tasks} == {"ticket-binary", "ticket-structured"}
    assert all(e["actor"]["kind"] == "ai_agent" for e in tasks)
    done = [e for e in tasks if e["type"] == "completed"]
    assert [(e["tokens"], e["cost_usd"], e["duration_seconds"]) for e in done] == [
        (18250, 0.42, 754.5)
    ] * 2
    changes = {e["change_id"]: e["task_id"] for e in published if e["family"] == "change"}
    assert changes == {"change-binary": "ticket-binary", "change-structured": "ticket-structured"}
    planned = _deployments_linked_by_id(published)
    assert all(e["project_id"] == "shop" and e["environment"] == "production" for e in planned)


def _deployments_linked_by_id(published: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The planned deployments, once the rollbacks and incidents name exactly those by id."""
    planned = [e for e in published if e.get("kind") == "planned"]
    rollbacks = {e["rolls_back_deployment_id"] for e in published if e.get("kind") == "rollback"}
    incidents = {e["caused_by_deployment_id"] for e in published if e["family"] == "incident"}
    assert rollbacks == incidents == {e["deployment_id"] for e in planned}
    return planned
