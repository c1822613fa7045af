"""Follows one shard's partitions of the compacted state topic into a ShardState."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from exporters.errors import ExporterError, RecordRejected
from exporters.records import StateDecoder, read_record
from exporters.shard import ShardState

log = logging.getLogger(__name__)


_METADATA_RETRY_S = 1.0


def owned_partitions(partition_count: int, shard: int, shards: int) -> list[int]:
    """The partitions shard ``shard`` of ``shards`` serves: every p with p % shards == shard."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in 0..{shards - 1}, got {shard}")
    return [p for p in range(partition_count) if p % shards == shard]


class StateFollower:
    """Reads its partitions from the beginning, then follows them, applying every record."""

    def __init__(
        self,
        consumer_config: dict[str, Any],
        topic: str,
        shard: int,
        shards: int,
        state: ShardState,
        codec: StateDecoder,
        *,
        batch_size: int = 1000,
        poll_timeout_s: float = 0.5,
        lag_interval_s: float = 5.0,
        metadata_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = {
            **consumer_config,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
        self._config.setdefault("group.id", f"{topic}.exporter")
        self._topic, self._shard, self._shards = topic, shard, shards
        self._state, self._codec = state, codec
        self._batch_size, self._poll_timeout_s = batch_size, poll_timeout_s
        self._lag_interval_s, self._metadata_timeout_s = lag_interval_s, metadata_timeout_s
        self._clock = clock

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; a fatal client error raises ExporterError."""
        consumer = Consumer(self._config)
        try:
            assigned = self._assign(consumer, stop)
            if stop.is_set():
                return
            at_end: set[int] = set()
            next_lag = self._clock()
            while not stop.is_set():
                for message in consumer.consume(self._batch_size, self._poll_timeout_s):
                    self._handle(message, at_end)
                if self._clock() >= next_lag or (
                    len(at_end) == len(assigned) and not self._state.caught_up
                ):
                    self._refresh_lag(consumer, assigned, caught_up=len(at_end) == len(assigned))
                    next_lag = self._clock() + self._lag_interval_s
        finally:
            consumer.close()

    def _assign(self, consumer: Consumer, stop: threading.Event) -> list[TopicPartition]:
        """This shard's partitions, assigned from the beginning. A topic that is not (yet)
        in the metadata is asked for again until `metadata_timeout_s` has passed: a state
        topic just created by the processors takes a moment to reach every broker."""
        deadline = self._clock() + self._metadata_timeout_s
        while True:
            try:
                metadata = consumer.list_topics(self._topic, timeout=self._metadata_timeout_s)
            except KafkaException as exc:
                raise ExporterError(f"cannot read the metadata of {self._topic}: {exc}") from exc
            topic = metadata.topics.get(self._topic)
            if topic is not None and topic.error is None and topic.partitions:
                break
            reason = topic.error if topic is not None else "unknown topic"
            if self._clock() >= deadline:
                raise ExporterError(
                    f"state topic {self._topic} is not available after "
                    f"{self._metadata_timeout_s:.0f} s: {reason}"
                )
            log.info("state topic %s is not available yet (%s); asking again", self._topic, reason)
            if stop.wait(_METADATA_RETRY_S):
                return []
        partitions = owned_partitions(len(topic.partitions), self._shard, self._shards)
        assigned = [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in partitions]
        consumer.assign(assigned)
        log.info(
            "shard %d/%d serves %s partitions %s of %d",
            self._shard,
            self._shards,
            self._topic,
            partitions,
            len(topic.partitions),
        )
        return assigned

    def _handle(self, message: Any, at_end: set[int]) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
                return
            if error.fatal():
                raise ExporterError(f"fatal Kafka error on {self._topic}: {error}")
            log.warning("Kafka error on %s: %s", self._topic, error)
            return
        try:
            item = read_record(message.key(), message.value(), self._codec)
        except RecordRejected as exc:
            log.warning(
                "skipping state record %s[%d]@%d: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                exc,
            )
            self._state.reject(exc.reason)
            return
        self._state.apply(item)

    def _refresh_lag(
        self, consumer: Consumer, assigned: list[TopicPartition], caught_up: bool
    ) -> None:
        lag: dict[int, int] = {}
        for position in consumer.position(assigned):
            try:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(self._topic, position.partition), timeout=5.0
                )
            except KafkaException as exc:
                log.warning("cannot read watermarks of partition %d: %s", position.partition, exc)
                continue
            start = position.offset if position.offset >= 0 else low
            lag[position.partition] = max(0, high - start)
        self._state.set_lag(lag, caught_up)
