"""A faust app whose consumer hands the event topics to one handler a fetched batch at a time.

faust delivers every message on its own: two tasks and a wait per message in the fetch loop,
then a queue, a stream and its processors. At the worker's rates that machinery cost four
times the folding itself. `BatchApp` keeps everything else of faust (consumer group and
partition assignment, tables, changelog recovery, offset commits, the producer) and replaces
only the per-message delivery of the chosen topics: each fetch of those topics goes to the
handler as one list, and its messages are acknowledged when the handler returns. Other topics
(the table changelogs during recovery) keep faust's own path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import Message
from mode import ServiceT

BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]

_FETCHING = "FETCHING"  # the diagnostic flag faust's own fetch loop sets


class BatchConsumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer with batch delivery for the topics of `BatchApp.on_batch`."""

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        app = cast(BatchApp, self.app)
        callback = self.callback
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = cast(Any, fetcher)._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = app.topics.acks_enabled_for
        batch: list[Message] = []
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(_FETCHING)
                batch = []
                # faust sleeps here too: getmany may otherwise never yield to the loop.
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in self.getmany(timeout=1.0):
                        offset = message.offset
                        last = read_offset[tp]
                        if last is not None and offset < last:
                            continue  # re-fetched after a seek: already delivered
                        if last and offset - last > 1 and acks_enabled_for(message.topic):
                            # Offsets missing from the log (compaction, transaction markers)
                            # must not hold back the committed offset.
                            await self._add_gap(tp, last + 1, offset)
                        if message.topic in app.batch_topics:
                            self.track_message(message)
                            batch.append(message)
                        else:
                            await self._commit_if_due()
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        read_offset[tp] = offset
                    if batch:
                        await self._deliver(app, batch)
                self.diag.unset_flag(_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        finally:
            # Cancelled mid-batch (a rebalance restarts the fetcher): forget what was not
            # acknowledged, or faust would wait for it before the next rebalance completes.
            self._release(message for message in batch if not message.acked)
            self.diag.unset_flag(_FETCHING)

    async def _deliver(self, app: BatchApp, batch: list[Message]) -> None:
        """Hand a batch to the handler; acknowledge it unless a rebalance intervened.

        Unacknowledged messages are not committed, so after a rebalance their partition's new
        owner reads them again (the handler is idempotent).
        """
        generation = app.consumer_generation_id
        if self.flow_active and app.batch_handler is not None:
            await app.batch_handler(batch)
            if app.consumer_generation_id == generation:
                for message in batch:
                    self.ack(message)
                await self._commit_if_due()
                return
        self._release(batch)

    def _release(self, messages: Iterable[Message]) -> None:
        """Stop tracking messages that will not be acknowledged (they are read again)."""
        for message in messages:
            self._unacked_messages.discard(message)

    async def _commit_if_due(self) -> None:
        every = self._commit_every
        if every is not None and self._n_acked >= every:
            self._n_acked = 0
            await self.commit()


class BatchTransport(aiokafka_driver.Transport):
    Consumer = BatchConsumer


class BatchApp(faust.App):
    """faust.App with batch delivery of chosen topics (see the module docstring)."""

    batch_topics: frozenset[str] = frozenset()
    batch_handler: BatchHandler | None = None

    def on_batch(self, topic: faust.TopicT, handler: BatchHandler) -> None:
        """Subscribe to `topic` and deliver its messages to `handler` in fetched batches."""
        self.batch_topics = frozenset(topic.topics)
        self.batch_handler = handler
        self.topics.add(topic)

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)
