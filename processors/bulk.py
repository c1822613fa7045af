"""A faust app whose consumer hands the event topics to one handler a fetched batch at a time.

faust delivers every message on its own: two tasks and a wait per message in the fetch loop,
then a queue, a stream and its processors. At the worker's rates that machinery cost four
times the folding itself. `BatchApp` keeps everything else of faust (consumer group and
partition assignment, tables, changelog recovery, offset commits, the producer) and replaces
only the per-message delivery of the chosen topics: each fetch of those topics goes to the
handler as one list, and its messages are acknowledged when the handler returns. Other topics
(the table changelogs during recovery) keep faust's own path.

Delivery is also checked, not trusted: the event topics are written without transactions and
never compacted, so each partition's offsets run without holes from where the consumer was
positioned (the committed offset, else the log start). `BatchConsumer` keeps the offset each
partition must deliver next; a fetch that starts beyond it means messages were passed over
(a batch released during a rebalance, records dropped between fetch and delivery), and the
partition is sought back to re-read them. Only a hole the log itself has (retention moved its
start past it) is accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast

import faust
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, Message
from mode import ServiceT

BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]

_FETCHING = "FETCHING"  # the diagnostic flag faust's own fetch loop sets


class BatchConsumer(aiokafka_driver.Consumer):
    """faust's aiokafka consumer with batch delivery for the topics of `BatchApp.on_batch`."""

    _next_offset: dict[TP, int | None]
    """Per event partition, the offset it must deliver next (None: not known yet)."""
    _seeks = 0
    """Times `perform_seek` positioned the partitions (each rebalance, each resumed flow)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_offset = {}

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
                positioned = self._seeks
                # faust sleeps here too: getmany may otherwise never yield to the loop.
                await self.sleep(0)
                if not self.should_stop:
                    resyncing: set[TP] = set()
                    async for tp, message in self.getmany(timeout=1.0):
                        offset = message.offset
                        if tp in resyncing:
                            continue  # sought back below: this fetch's rest comes again
                        if message.topic in app.batch_topics:
                            expected = self._next_offset.get(tp)
                            if expected is None:
                                # Nothing positioned this partition yet (a fetch that raced
                                # the seek after an assignment): its start is still known.
                                expected = self._next_offset[tp] = await self._start_of(tp)
                            if expected is not None and offset < expected:
                                continue  # re-fetched after a seek: already delivered
                            if expected is not None and offset > expected:
                                if not await self._hole_in_log(tp, expected, offset):
                                    resyncing.add(tp)
                                    continue
                                if acks_enabled_for(message.topic):
                                    await self._add_gap(tp, expected, offset)
                            self._next_offset[tp] = offset + 1
                            self.track_message(message)
                            batch.append(message)
                            read_offset[tp] = offset
                            continue
                        last = read_offset[tp]
                        if last is not None and offset < last:
                            continue  # re-fetched after a seek: already delivered
                        if last and offset - last > 1 and acks_enabled_for(message.topic):
                            # Offsets missing from the log (compaction, transaction markers)
                            # must not hold back the committed offset.
                            await self._add_gap(tp, last + 1, offset)
                        await self._commit_if_due()
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                        read_offset[tp] = offset
                    if batch:
                        await self._deliver(app, batch, positioned)
                    if self.flow_active and positioned == self._seeks:
                        await self._reconcile_positions()
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
            self._release([message for message in batch if not message.acked], positioned)
            self.diag.unset_flag(_FETCHING)

    async def _deliver(self, app: BatchApp, batch: list[Message], positioned: int) -> None:
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
                # faust's livelock check reads when each partition last reached a stream;
                # without this it reports every event partition as never processed.
                inbound = app.monitor.stream_inbound_time
                now = time.monotonic()
                for tp in {message.tp for message in batch}:
                    inbound[tp] = now
                await self._commit_if_due()
                return
        self._release(batch, positioned)

    def _release(self, messages: Iterable[Message], positioned: int) -> None:
        """Forget messages that will not be acknowledged, and have them read again.

        `positioned` is the count of `perform_seek` calls when they were fetched. If a seek
        came since, it has already positioned every partition at its committed offset.
        Otherwise the next fetch of a released partition continues past these messages, and
        the delivery check seeks back to the first of them.
        """
        next_offset = self._next_offset
        for message in messages:
            self._unacked_messages.discard(message)
            if positioned != self._seeks:
                continue
            tp = message.tp
            expected = next_offset.get(tp)
            # Not known (None): the next delivery asks the broker where the partition starts.
            if expected is not None and message.offset < expected:
                next_offset[tp] = message.offset

    async def _seek(self, partition: TP, offset: int) -> None:
        """aiokafka's seek, run in the consumer's own thread.

        faust's driver calls it from the caller's thread, where it races the consumer thread's
        `fetched_records`: the seek drops the partition's fetched records while that loop is
        about to delete them (`KeyError` in aiokafka's fetcher, the worker's fetcher crashes;
        faust issue "workers crash due to keyerror from aiokafka"), or the drained records move
        the position past the seek. This consumer seeks more than faust's (re-reads after a
        rebalance), so it goes through the thread's queue, as faust's `seek_wait` does."""
        thread = cast(Any, self)._thread
        await thread.call_thread(thread._ensure_consumer().seek, partition, offset)

    async def perform_seek(self) -> None:
        """Seek every partition to its committed offset, an uncommitted one to the log start.

        faust's seek leaves a partition without a committed offset (or committed at 0) where
        it is: aiokafka's `seek_to_committed` skips those. After a rebalance that is past a
        batch that was fetched and never folded, so those are sought to the log start here,
        as `auto_offset_reset=earliest` means.
        """
        await super().perform_seek()
        self._seeks += 1
        app = cast(BatchApp, self.app)
        tps = {tp for tp in self.assignment() if tp.topic in app.batch_topics}
        committed = self._committed_offset
        unknown = [tp for tp in tps if committed.get(tp) is None]
        starts = await self.earliest_offsets(*unknown) if unknown else {}
        for tp in unknown:
            if starts.get(tp) is not None:
                await self.seek(tp, starts[tp])
        self._next_offset = {
            tp: committed[tp] if committed.get(tp) is not None else starts.get(tp) for tp in tps
        }

    async def _reconcile_positions(self) -> None:
        """Seek back every event partition whose fetch position ran past what was delivered.

        Between fetches the position of a partition is the offset after the last record
        handed out; if it is past the next offset to deliver, records were handed out and
        lost on the way (with nothing fetched after them, the check in the loop never sees
        it: a partition's tail would stay unread).
        """
        positions = self._positions()
        for tp, expected in list(self._next_offset.items()):
            position = positions.get(tp)
            if expected is not None and position is not None and position > expected:
                if not await self._hole_in_log(tp, expected, position):
                    continue
                self._next_offset[tp] = position

    def _assignment_state(self) -> Any:
        """aiokafka's per-partition fetch state (position, pause, highwater) of the assignment."""
        consumer = cast(Any, self)._thread._ensure_consumer()
        return consumer._fetcher._subscriptions.subscription.assignment

    def _positions(self) -> dict[TP, int]:
        """aiokafka's fetch position of each assigned partition that has one."""
        try:
            assignment = self._assignment_state()
            if assignment is None:
                return {}
            out = {}
            for aiotp in assignment.tps:
                state = assignment.state_value(aiotp)
                if state.has_valid_position:
                    out[TP(aiotp.topic, aiotp.partition)] = state.position
            return out
        except AttributeError:  # aiokafka's internals moved: the check in the loop remains
            return {}

    def describe(self, tp: TP) -> str:
        """Where `tp` stands in faust's and aiokafka's bookkeeping: for a partition not moving."""
        parts = [
            f"active={tp in (self._active_partitions or ())}",
            f"paused={tp in self._paused_partitions}",
            f"buffered={tp in self._buffered_partitions}",
            f"next={self._next_offset.get(tp)}",
            f"flow_active={self.flow_active}",
        ]
        try:
            assignment = self._assignment_state()
            aiotp = TopicPartition(tp.topic, tp.partition)
            if assignment is None or aiotp not in assignment.tps:
                parts.append("aiokafka: not assigned")
            else:
                state = assignment.state_value(aiotp)
                records = cast(Any, self)._thread._ensure_consumer()._fetcher._records.get(aiotp)
                parts.append(
                    f"aiokafka: status={state._status} position={state._position} "
                    f"paused={state.paused} highwater={state.highwater} "
                    f"records={type(records).__name__}"
                )
        except Exception as exc:  # diagnostics only: never fail the caller
            parts.append(f"aiokafka: unreadable ({exc!r})")
        return " ".join(parts)

    async def _start_of(self, tp: TP) -> int | None:
        """Where a partition's delivery starts: its committed offset, else the log start.

        Asked of the broker, not of faust's bookkeeping, which knows committed offsets only
        once a seek has run: a fetch can come before that while an assignment completes,
        and records faust drops then (its partitions not active yet) would pass unseen if
        the first record delivered were taken as the start.
        """
        thread = cast(Any, self)._thread
        consumer = thread._ensure_consumer()
        aiotp = TopicPartition(tp.topic, tp.partition)
        committed = await thread.call_thread(consumer.committed, aiotp)
        if committed is not None:
            return int(committed)
        start = (await self.earliest_offsets(tp)).get(tp)
        return None if start is None else int(start)

    async def _hole_in_log(self, tp: TP, expected: int, offset: int) -> bool:
        """Whether offsets [expected, offset) are gone from the log; if not, seek back to them."""
        start = (await self.earliest_offsets(tp)).get(tp)
        if start is not None and start >= offset:
            self.log.info(
                "%s: offsets %d-%d left the log before they were read", tp, expected, offset - 1
            )
            return True
        self.log.warning(
            "%s: fetch continued at offset %d, %d message(s) after the last delivered; "
            "seeking back to re-read them",
            tp,
            offset,
            offset - expected,
        )
        app = cast(BatchApp, self.app)
        if app.on_refetch is not None:
            app.on_refetch(tp.topic, offset - expected)
        await self.seek(tp, expected)
        return False

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
    on_refetch: Callable[[str, int], None] | None = None
    """Told (topic, messages) each time a partition is sought back to re-read what it skipped."""

    def on_batch(self, topic: faust.TopicT, handler: BatchHandler) -> None:
        """Subscribe to `topic` and deliver its messages to `handler` in fetched batches."""
        self.batch_topics = frozenset(topic.topics)
        self.batch_handler = handler
        self.topics.add(topic)

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)
