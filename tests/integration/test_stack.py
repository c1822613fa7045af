"""The stack is real: a Kafka broker that clients of both kinds talk to, and a Prometheus that
scrapes targets and remote-writes to VictoriaMetrics."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from support.pipeline import prometheus_query, wait_for

from devmetrics.stack.process import free_port

pytestmark = pytest.mark.integration


def test_confluent_kafka_round_trip(kafka_settings, topics) -> None:
    topic = topics.events("deployment")
    producer = Producer(
        {"bootstrap.servers": kafka_settings.bootstrap, "acks": "all", "enable.idempotence": True}
    )
    acked: list[tuple[int | None, int | None]] = []
    for i in range(100):
        producer.produce(
            topic,
            key=f"proj-{i % 7}",
            value=f"v{i}".encode(),
            on_delivery=lambda err, msg: (
                acked.append((msg.partition(), msg.offset())) if err is None else None
            ),
        )
    assert producer.flush(15) == 0
    assert len(acked) == 100

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_settings.bootstrap,
            "group.id": "t-rt",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(seen) < 100 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            value, key = msg.value(), msg.key()
            assert value is not None and key is not None
            seen[value.decode()] = key.decode()
    consumer.close()
    assert seen == {f"v{i}": f"proj-{i % 7}" for i in range(100)}


def test_aiokafka_round_trip_lands_in_same_partition(kafka_settings, topics) -> None:
    """aiokafka (faust's driver) and confluent-kafka with murmur2 agree on partitions."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    from schemas.topics import CONFLUENT_PARTITIONER

    topic = topics.events("incident")
    keys = [f"proj-{i:04d}" for i in range(40)]

    async def run() -> dict[str, int]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap)
        await producer.start()
        try:
            placed = {}
            for key in keys:
                meta = await producer.send_and_wait(topic, key=key.encode(), value=b"a")
                placed[key] = meta.partition
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_settings.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in range(kafka_settings.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            got: dict[str, int] = {}
            deadline = time.monotonic() + 30
            while len(got) < len(keys) and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        got[record.key.decode()] = tp.partition
        finally:
            await consumer.stop()
        assert got == placed
        return placed

    aio_partitions = asyncio.run(run())

    producer = Producer(
        {"bootstrap.servers": kafka_settings.bootstrap, "partitioner": CONFLUENT_PARTITIONER}
    )
    confluent_partitions: dict[str, int | None] = {}
    for key in keys:

        def delivered(err: KafkaError | None, msg: Message, k: str = key) -> None:
            confluent_partitions[k] = msg.partition()

        producer.produce(topic, key=key, value=b"c", on_delivery=delivered)
    assert producer.flush(15) == 0
    assert confluent_partitions == aio_partitions
    assert len(set(aio_partitions.values())) > 1


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is installed by .ci/run")
def test_kcat_lists_one_broker_and_the_topics(kafka_settings, topics) -> None:
    out = subprocess.run(
        ["kcat", "-L", "-J", "-b", kafka_settings.bootstrap],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    meta = json.loads(out)
    assert len(meta["brokers"]) == 1
    names = {t["topic"]: len(t["partitions"]) for t in meta["topics"]}
    for name in [*topics.all_events, topics.deadletter, topics.state]:
        assert names[name] == kafka_settings.partitions


def test_prometheus_scrapes_and_victoriametrics_receives(monitoring_stack, unique) -> None:
    """Each shard goes to one Prometheus server (by its shard label); a project's series lose
    the target labels at scrape, the shard's own keep them; VictoriaMetrics gets both."""
    registry = CollectorRegistry()
    marker = unique("probe")
    gauge = Gauge("devmetrics_stack_probe", "a probe series", ["probe"], registry=registry)
    gauge.labels(marker).set(42.5)
    project = Gauge(
        "devmetrics_stack_probe_project", "a project series", ["project"], registry=registry
    )
    project.labels(marker).set(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    last = len(monitoring_stack.prometheus_urls) - 1
    try:
        monitoring_stack.add_targets("exporters", marker, [f"127.0.0.1:{port}"], shard=last)
        promql = f'devmetrics_stack_probe{{probe="{marker}"}}'
        owner = monitoring_stack.prometheus_urls[last]
        result = wait_for(lambda: prometheus_query(owner, promql), 60, 0.5)
        assert float(result[0]["value"][1]) == 42.5
        assert result[0]["metric"]["job"] == "devmetrics-exporters"
        assert result[0]["metric"]["shard"] == str(last)
        (own,) = prometheus_query(owner, f'devmetrics_stack_probe_project{{project="{marker}"}}')
        assert own["metric"] == {"__name__": "devmetrics_stack_probe_project", "project": marker}
        for other in monitoring_stack.prometheus_urls[:last]:
            assert prometheus_query(other, f'{{probe="{marker}"}} or {{project="{marker}"}}') == []

        vm = wait_for(
            lambda: prometheus_query(
                monitoring_stack.victoriametrics_url, promql, latency_offset="1s"
            ),
            90,
            1.0,
        )
        assert float(vm[0]["value"][1]) == 42.5
    finally:
        server.shutdown()
        thread.join(5)
