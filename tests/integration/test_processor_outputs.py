"""The worker's producer keeps the metadata of every topic it writes (processors.app.OutputTopics).

aiokafka refreshes metadata only for the topics its client tracks, or for all while it tracks
none. A batch queued for a topic known only from such a full fetch is stranded once another
topic becomes tracked: the first test shows the library doing that against the real broker, the
second that tracking the outputs up front delivers the same batch.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import NotLeaderForPartitionError
from confluent_kafka.admin import AdminClient, NewTopic

from processors.faust_adapters import OutputTopics

pytestmark = pytest.mark.integration

BATCH_TTL_MS = 8_000  # aiokafka expires an undelivered batch after its request timeout


def _create(bootstrap: str, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, 2, 1) for n in names]).values():
        future.result()


async def _known_from_a_full_fetch(producer: AIOKafkaProducer, topic: str) -> None:
    """Refresh with nothing tracked (all topics) until `topic` is known, still untracked."""
    while producer.client.cluster.partitions_for_topic(topic) is None:
        await producer.client.force_metadata_update()
        await asyncio.sleep(0.2)
    assert topic not in producer.client._topics


async def _queue_then_track_another(
    bootstrap: str, written: str, other: str, outputs: list[str] | None
) -> asyncio.Future[object]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, request_timeout_ms=BATCH_TTL_MS, linger_ms=300
    )
    await producer.start()
    try:
        await _known_from_a_full_fetch(producer, written)
        if outputs is not None:
            await OutputTopics(lambda: producer, outputs).track()
        delivery = await producer.send(written, b"block", partition=1)
        producer.client.add_topic(other)  # e.g. the first send to a topic created later
        await asyncio.wait([delivery], timeout=BATCH_TTL_MS / 1000 + 10)
        return delivery
    finally:
        await producer.stop()


def test_an_untracked_topic_strands_its_batch_in_aiokafka(kafka_bootstrap: str) -> None:
    written, other = f"out-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    _create(kafka_bootstrap, written, other)
    delivery = asyncio.run(_queue_then_track_another(kafka_bootstrap, written, other, None))
    assert delivery.done()
    assert isinstance(delivery.exception(), NotLeaderForPartitionError)


def test_tracked_outputs_deliver_the_same_batch(kafka_bootstrap: str) -> None:
    written, other = f"out-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    _create(kafka_bootstrap, written, other)
    delivery = asyncio.run(_queue_then_track_another(kafka_bootstrap, written, other, [written]))
    assert delivery.done() and delivery.exception() is None
    metadata = delivery.result()
    assert (metadata.topic, metadata.partition) == (written, 1)  # type: ignore[attr-defined]
