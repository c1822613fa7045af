"""The publisher against the real broker: exact round trips, partitioning, loud failures."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Consumer

from core.kafka import client_config, ensure_topics
from core.settings import KafkaSettings
from producers.publisher import DeliveryFailed, Publisher, PublishReport
from schemas.codec import Codec

pytestmark = pytest.mark.integration

T0 = 1_714_521_600_000  # 2024-05-01T00:00:00Z


def deployment(i: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=i)),
        "project_id": f"proj-{i % 7:04d}",
        "team": f"team-{i % 3}",
        "occurred_at": T0 + i * 1_000,
        "source": "ci",
        "actor": {"kind": "human", "name": "ci-bot", "model": None},
        "schema_version": 2,
        "type": "finished",
        "deployment_id": f"dep-{i}",
        "environment": "production",
        "status": "success" if i % 5 else "failure",
        "change_ids": [f"c-{i}", f"c-{i + 1}"],
        "kind": "planned",
        "rolls_back_deployment_id": None,
        "remediates_incident_id": None,
        "started_at": T0 + i * 1_000 - 60_000,
    }


def sli(i: int) -> dict[str, Any]:
    total = 100 + i
    return {
        "event_id": str(uuid.UUID(int=10_000 + i)),
        "project_id": f"proj-{i % 7:04d}",
        "team": f"team-{i % 3}",
        "occurred_at": T0 + i * 10_000,
        "source": "simulator",
        "actor": {"kind": "ai_agent", "name": "load", "model": "m1"},
        "schema_version": 2,
        "type": "window_sample",
        "service": "api",
        "interval_seconds": 10,
        "requests_total": total,
        "requests_good": total - i % 3,
        "latency_buckets": [{"le": 0.3, "count": total - 5}, {"le": 1.0, "count": total}],
    }


def consume(kafka: KafkaSettings, topics: list[str], count: int, timeout_s: float = 30.0):
    """Read the topics from the start until `count` messages came, then 1 s more for extras."""
    consumer = Consumer(
        client_config(kafka)
        | {
            "group.id": f"g{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics)
    messages = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None:
                assert msg.error() is None, msg.error()
                messages.append(msg)
            elif len(messages) >= count:
                deadline = min(deadline, time.monotonic() + 1.0)
    finally:
        consumer.close()
    return messages


def test_published_events_come_back_exactly(kafka_settings: KafkaSettings) -> None:
    codec = Codec.default()
    expected = {e["event_id"]: ("deployment", e) for e in map(deployment, range(150))}
    expected |= {e["event_id"]: ("sli", e) for e in map(sli, range(150))}
    with Publisher(kafka_settings, codec) as publisher:
        for family, event in expected.values():
            publisher.publish(family, event)
    assert (publisher.produced, publisher.acknowledged, publisher.failed) == (300, 300, 0)

    topics = publisher.topics
    messages = consume(kafka_settings, [topics.events("deployment"), topics.events("sli")], 300)
    assert len(messages) == 300
    seen = {}
    for msg in messages:
        decoded = codec.decode(msg.value(), expect_family=topics.family_of(msg.topic()))
        assert msg.key() == decoded.record["project_id"].encode()
        seen[decoded.record["event_id"]] = (decoded.family, decoded.record)
    assert seen == expected


def test_partition_matches_aiokafka_default_partitioner(kafka_bootstrap: str) -> None:
    kafka = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=12
    )
    ensure_topics(kafka)
    keys = [f"proj-{i:04d}" for i in range(120)]
    with Publisher(kafka) as publisher:
        for i, key in enumerate(keys):
            publisher.publish("deployment", deployment(i) | {"project_id": key})
    messages = consume(kafka, [publisher.topics.events("deployment")], len(keys))
    chosen = {msg.key().decode(): msg.partition() for msg in messages}
    partitions = list(range(12))
    expected = {key: DefaultPartitioner()(key.encode(), partitions, partitions) for key in keys}
    assert chosen == expected
    assert len(set(chosen.values())) == 12  # the keys spread over every partition


def test_unreachable_broker_is_a_delivery_failure() -> None:
    kafka = KafkaSettings(bootstrap="127.0.0.1:1", topic_prefix="unreachable")
    publisher = Publisher(kafka, overrides={"message.timeout.ms": 1_000})
    publisher.publish("deployment", deployment(1))
    with pytest.raises(DeliveryFailed) as info:
        publisher.flush(10)
    report = info.value.report
    assert (report.produced, report.acknowledged, report.failed, report.pending) == (1, 0, 1, 0)
    assert report.first_errors == [
        "unreachable.events.deployment key=proj-0001: Local: Message timed out"
    ]
    assert "failed 1" in str(info.value)


def test_missing_topic_is_a_delivery_failure(kafka_settings: KafkaSettings) -> None:
    publisher = Publisher(
        kafka_settings,
        overrides={"message.timeout.ms": 3_000, "allow.auto.create.topics": False},
    )
    missing = f"{kafka_settings.topic_prefix}.does-not-exist"
    publisher.publish_raw(missing, b"k", b"v")
    with pytest.raises(DeliveryFailed) as info:
        publisher.flush(15)
    assert info.value.report.failed == 1
    assert info.value.report.first_errors[0].startswith(f"{missing} key=k: ")


def test_flush_reports_and_only_new_failures_raise(kafka_settings: KafkaSettings) -> None:
    publisher = Publisher(kafka_settings)
    for i in range(3):
        publisher.publish("sli", sli(i))
    assert publisher.flush(10) == PublishReport(3, 3, 0, [], 0)
    assert publisher.flush(10) == PublishReport(3, 3, 0, [], 0)
