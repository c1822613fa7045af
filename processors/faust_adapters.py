"""The faust side of the processor: how faust's events, table, producer and assignor are
adapted to the FoldWorker (which knows nothing of faust). `processors/app.py` wires them.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import faust
from faust.streams import _current_event  # see route_by

from processors.worker import Incoming

log = logging.getLogger(__name__)


def route_by(event: Any) -> None:
    """Make `event` faust's current event, so table writes go to its partition.

    faust routes a table write (store and changelog) by the current event's partition. A batch
    holds many projects, so before writing a project's blocks we point it at a message of that
    project.
    """
    _current_event.set(weakref.ref(event) if event is not None else None)


class TableBlockStore:
    """The block store over a faust table of raw bytes (RocksDB or memory).

    Writes go to the table's store and to its changelog; `confirm` waits until the broker has
    acknowledged every changelog record written since the last call. faust's own producer
    flush is not enough: it gives up on its send buffer after 0.1 s without progress, so
    under load a batch's offsets could be committed ahead of its blocks.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self._unconfirmed: list[Awaitable[Any]] = []

    def get(self, key: str, via: Any) -> bytes | None:
        route_by(via)
        value: bytes | None = self.table.get(key.encode())
        return value

    def put(self, key: str, value: bytes, via: Any) -> None:
        route_by(via)
        raw = key.encode()
        self.table.data[raw] = value
        self._unconfirmed.append(self.table.send_changelog(via.message.partition, raw, value))

    def delete(self, key: str, via: Any) -> None:
        route_by(via)
        raw = key.encode()
        if self.table.data.pop(raw, None) is not None:
            self._unconfirmed.append(
                self.table.send_changelog(
                    via.message.partition, raw, value=None, value_serializer="raw"
                )
            )

    def delete_in(self, key: str, partition: int) -> None:
        raw = key.encode()
        if self.table.data.pop(raw, None) is not None:
            self._unconfirmed.append(
                self.table.send_changelog(partition, raw, value=None, value_serializer="raw")
            )

    def items(self) -> Iterator[tuple[str, bytes]]:
        """Every stored block, read lazily from the table's store (never all in memory at
        once: `FoldWorker.assign_in_steps` reads it between turns of the event loop)."""
        route_by(None)
        for k, v in self.table.data.items():
            yield k.decode(), v

    async def confirm(self) -> None:
        """Wait for the broker's acknowledgement of every changelog record written so far."""
        pending, self._unconfirmed = self._unconfirmed, []
        if pending:
            await asyncio.gather(*pending)


class OutputTopics:
    """Makes the worker's producer track every topic it writes, before its first write.

    aiokafka's client refreshes metadata only for the topics it tracks, or for all topics while
    it tracks none; a send to a topic it already knows from such a full fetch does not track
    it. Once any other topic is tracked, the next refresh drops the untracked one, and a batch
    queued for it waits for a leader that never comes back until the batch expires
    (NotLeaderForPartitionError after `producer_request_timeout`). Tracking all outputs up
    front closes that window (tests/integration/test_processor_outputs.py shows both sides).
    """

    def __init__(self, producer: Callable[[], Any], names: Sequence[str]) -> None:
        self.producer = producer  # the started AIOKafkaProducer, once asked
        self.names = list(names)
        self.tracked = False
        self._lock = asyncio.Lock()

    async def track(self) -> None:
        if self.tracked:
            return
        async with self._lock:
            if self.tracked:
                return
            producer = self.producer()
            await asyncio.gather(*(producer.client.add_topic(name) for name in self.names))
            for name in self.names:
                await producer.partitions_for(name)  # until the topic's partitions are known
            self.tracked = True
            log.info("the producer tracks the metadata of %s", ", ".join(self.names))


def receiver(fun: Callable[..., Awaitable[None]]) -> Any:
    """A coroutine function as a faust signal receiver (its stubs want a `signal` keyword)."""
    return fun


class _Via:
    """Stands in for a faust event when routing table writes: faust reads `.message` only."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message


def incoming(message: Any) -> Incoming:
    return Incoming(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=int(message.timestamp * 1000),
        headers=list(message.headers or ()),
        origin=_Via(message),
    )


def source_partition(letter: Any) -> int:
    header = dict(letter.headers)["dlq.partition"]
    return int(header)


def assigned_tps(app: faust.App, source_names: set[str]) -> set[Any]:
    return {tp for tp in app.assignor.assigned_actives() if tp.topic in source_names}


def assigned(app: faust.App, source_names: set[str]) -> set[int]:
    return {tp.partition for tp in assigned_tps(app, source_names)}
