"""`devmetrics simulate` against the real broker: every generated event is on its topic."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, TopicPartition

from core.kafka import client_config
from core.settings import KafkaSettings, Settings
from producers.simulator.cli import simulate
from schemas.codec import Codec
from schemas.topics import FAMILIES, Topics

pytestmark = pytest.mark.integration


def messages_per_topic(kafka: KafkaSettings) -> dict[str, int]:
    """Messages on each event topic: high minus low watermark, summed over partitions."""
    consumer = Consumer(client_config(kafka) | {"group.id": "count", "enable.auto.commit": False})
    try:
        counts = {}
        for family in FAMILIES:
            topic = Topics(kafka.topic_prefix).events(family)
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            total = 0
            for p in partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                total += high - low
            counts[family] = total
        return counts
    finally:
        consumer.close()


def test_backfill_produced_equals_acknowledged_equals_messages_per_topic(
    kafka_settings: KafkaSettings,
) -> None:
    result = CliRunner().invoke(
        simulate,
        ["--projects", "20", "--days", "2", "--seed", "5", "--end", "2026-01-01T00:00:00Z"],
        obj=Settings(kafka=kafka_settings),
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"produced (\d+) acknowledged (\d+) failed (\d+)", result.output)
    assert match, result.output
    produced, acknowledged, failed = map(int, match.groups())
    generated = {f: int(n) for f, n in re.findall(r"^  (\w+): (\d+)$", result.output, re.M)}
    on_topics = messages_per_topic(kafka_settings)
    assert failed == 0
    assert produced == acknowledged == sum(generated.values()) == sum(on_topics.values())
    assert generated == on_topics
    assert set(generated) == set(FAMILIES)


def test_messages_are_keyed_by_project_and_decode(kafka_settings: KafkaSettings) -> None:
    result = CliRunner().invoke(
        simulate,
        [
            "--projects",
            "2",
            "--days",
            "0.1",
            "--seed",
            "5",
            "--end",
            "2026-01-01T00:00:00Z",
            "--no-default-scenarios",
        ],
        obj=Settings(kafka=kafka_settings),
    )
    assert result.exit_code == 0, result.output
    topic = Topics(kafka_settings.topic_prefix).events("sli")
    consumer = Consumer(
        client_config(kafka_settings)
        | {"group.id": "read", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    codec = Codec.default()
    seen = 0
    try:
        while batch := consumer.consume(num_messages=1000, timeout=5):
            for message in batch:
                assert message.error() is None
                value = message.value()
                assert value is not None
                decoded = codec.decode(value)
                assert decoded.family == "sli"
                assert message.key() == decoded.record["project_id"].encode()
                seen += 1
    finally:
        consumer.close()
    # (T - 2.4 h, T] holds 29 multiples of 300 s: 29 samples per service.
    assert seen > 0 and seen % 29 == 0
