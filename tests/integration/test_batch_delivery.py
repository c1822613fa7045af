"""The batch consumer's delivery check (processors/bulk.py) against the real broker.

An event partition's offsets run without holes from where the consumer was positioned, so a
fetch that starts beyond the next expected offset has passed messages over. The first test
drops messages between fetch and delivery, once, and shows them sought back to and delivered;
the second shows that a hole the log itself has (its start moved past the committed offset)
is accepted, delivered past and committed past, without seeking back to it for ever. The
third has a fetch come before the partitions were positioned (the order a worker meets when
events arrive while its assignment completes) and lose the first records of a partition.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from processors.bulk import BatchApp, BatchConsumer, BatchTransport

pytestmark = pytest.mark.integration

MESSAGES = 200
PARTITIONS = 2
DROPPED = {(0, 0), (0, 1), (1, 40)}  # (partition, offset) lost once between fetch and delivery


def _topic_with_messages(bootstrap: str, partitions: int, per_partition: int) -> str:
    topic = f"bd-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for partition in range(partitions):
        for n in range(per_partition):
            producer.produce(topic, value=b"m%d" % n, partition=partition)
    assert producer.flush(30) == 0
    return topic


class DroppingConsumer(BatchConsumer):
    """Loses the messages of `drop` the first time they are fetched (the fault injected)."""

    drop = DROPPED

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dropped: list[tuple[int, int]] = []

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        async for tp, message in super().getmany(timeout):
            where = (tp.partition, message.offset)
            if where in self.drop and where not in self.dropped:
                self.dropped.append(where)
                continue
            yield tp, message


class DroppingTransport(BatchTransport):
    Consumer = DroppingConsumer


class DroppingApp(BatchApp):
    def _new_transport(self) -> Any:
        return DroppingTransport(self.conf.broker_consumer, self)


class LateSeekConsumer(DroppingConsumer):
    """Loses the first two records of partition 0 in a fetch that finds the partition not
    positioned by a seek yet: the state a worker is in when events arrive while its
    assignment completes (faust fetches and seeks concurrently then). Modelled by forgetting,
    once, what the first seek set, before the first fetch."""

    drop = {(0, 0), (0, 1)}
    forgot_positions: bool = False

    async def perform_seek(self) -> None:
        await super().perform_seek()
        if not self.forgot_positions:
            self._next_offset.clear()
            self.forgot_positions = True


class LateSeekTransport(BatchTransport):
    Consumer = LateSeekConsumer


class LateSeekApp(BatchApp):
    def _new_transport(self) -> Any:
        return LateSeekTransport(self.conf.broker_consumer, self)


async def _consume(
    app: BatchApp, topic: str, until: int, timeout_s: float = 60
) -> list[tuple[int, int]]:
    """Run `app` on `topic` until `until` messages were delivered; (partition, offset) of each."""
    delivered: list[tuple[int, int]] = []

    async def handler(batch: Sequence[Any]) -> None:
        delivered.extend((m.partition, m.offset) for m in batch)

    source = app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    app.on_batch(source, handler)
    app.finalize()
    await app.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(set(delivered)) < until and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # anything delivered twice or past the end would show now
        await app.consumer.commit()
    finally:
        await app.stop()
    return delivered


def _app(cls: type[BatchApp], bootstrap: str, group: str, tmp_path: Path) -> BatchApp:
    return cls(
        group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(tmp_path),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_partitions=PARTITIONS,
    )


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
        return [tp.offset for tp in found]
    finally:
        consumer.close()


def test_messages_passed_over_by_a_fetch_are_sought_back_to(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    per_partition = MESSAGES // PARTITIONS
    topic = _topic_with_messages(kafka_bootstrap, PARTITIONS, per_partition)
    group = f"bd-{uuid.uuid4().hex[:8]}"
    app = _app(DroppingApp, kafka_bootstrap, group, tmp_path)
    refetches: list[tuple[str, int]] = []
    app.on_refetch = lambda t, skipped: refetches.append((t, skipped))
    delivered = asyncio.run(_consume(app, topic, MESSAGES))
    consumer = app.consumer
    assert isinstance(consumer, DroppingConsumer)
    assert sorted(consumer.dropped) == sorted(DROPPED)  # the fault happened
    expected = {(p, o) for p in range(PARTITIONS) for o in range(per_partition)}
    assert set(delivered) == expected
    assert len(delivered) == len(expected)  # sought back to the hole, not re-read from 0
    assert sorted(refetches) == [(topic, 1), (topic, 2)]
    assert _committed(kafka_bootstrap, group, topic, PARTITIONS) == [per_partition] * PARTITIONS


def test_a_hole_the_log_has_is_delivered_past_and_committed_past(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = _topic_with_messages(kafka_bootstrap, 1, 100)
    group = f"bd-{uuid.uuid4().hex[:8]}"
    # The group had read 10 messages; retention then removed everything before offset 60.
    setup = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    setup.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
    setup.close()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, 60)]).values():
        assert future.result().low_watermark == 60
    app = _app(BatchApp, kafka_bootstrap, group, tmp_path)
    refetches: list[tuple[str, int]] = []
    app.on_refetch = lambda t, skipped: refetches.append((t, skipped))
    delivered = asyncio.run(_consume(app, topic, 40))
    assert delivered == [(0, offset) for offset in range(60, 100)]
    assert refetches == []
    assert _committed(kafka_bootstrap, group, topic, 1) == [100]


def test_records_lost_before_the_partitions_were_positioned_are_read_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = _topic_with_messages(kafka_bootstrap, 1, 100)
    group = f"bd-{uuid.uuid4().hex[:8]}"
    app = _app(LateSeekApp, kafka_bootstrap, group, tmp_path)
    refetches: list[tuple[str, int]] = []
    app.on_refetch = lambda t, skipped: refetches.append((t, skipped))
    delivered = asyncio.run(_consume(app, topic, 100))
    consumer = app.consumer
    assert isinstance(consumer, LateSeekConsumer)
    assert sorted(consumer.dropped) == [(0, 0), (0, 1)]  # the fault happened
    assert consumer.forgot_positions
    assert {offset for _, offset in delivered} == set(range(100))
    assert refetches == [(topic, 2)]
    assert _committed(kafka_bootstrap, group, topic, 1) == [100]
