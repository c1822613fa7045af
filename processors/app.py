"""The faust app: composition root wiring Kafka topics, the block table and the FoldWorker.

No metric logic lives here. The eight event topics, which share partition count and key
(project id, murmur2), are read as one subscription, so faust's assignor gives one worker the
same partition number of every topic, plus the matching changelog partition of the block
table. Their messages reach the worker a fetched batch at a time (`processors.bulk`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from prometheus_client import CollectorRegistry

from core.kafka import faust_credentials
from core.limits import GuardedCodec
from core.processor_settings import ProcessorSettings, processor_settings
from core.settings import Settings
from core.slo_definitions import SloConfigError
from processors.admission import AsOf
from processors.bulk import BatchApp
from processors.clock import Clock, WallClock
from processors.faust_adapters import (
    OutputTopics,
    TableBlockStore,
    assigned,
    assigned_tps,
    incoming,
    receiver,
    source_partition,
)
from processors.telemetry import WorkerMetrics
from processors.worker import FoldWorker
from schemas.codec import Codec
from schemas.topics import Topics

log = logging.getLogger(__name__)

BLOCK_TABLE = "blocks"
SNAPSHOT_TICK_S = 1.0
# CPU spent on snapshots per tick, so that consumption is never starved by a refresh.
SNAPSHOT_BUDGET_S = 0.5
LAG_TICK_S = 5.0
PROGRESS_EVERY_S = 30.0
STUCK_AFTER_S = 60.0  # a partition behind while the worker is idle this long is reported


@dataclass
class ProcessorApp:
    """The faust app and the objects a caller (CLI, tests) may want to reach."""

    app: faust.App
    worker: FoldWorker
    registry: CollectorRegistry
    metrics: WorkerMetrics


def _producer_compression(name: str) -> str | None:
    return None if name == "none" else name


def create_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    as_of_ms: int | None = None,
    processor: ProcessorSettings | None = None,
    registry: CollectorRegistry | None = None,
    codec: Codec | None = None,
) -> ProcessorApp:
    """Build a processor worker app; nothing runs until the faust worker starts it.

    `as_of_ms` fixes T (backfills, tests); without it T is the wall clock floored to the minute.
    `processor` overrides the `processor` section of the settings (or its defaults).
    """
    kafka = settings.kafka
    conf = processor or processor_settings(settings)
    clock = clock or WallClock()
    # Every event is decoded within the hostile-input limits (docs/security.md).
    codec = GuardedCodec(codec or Codec.default())
    registry = registry or CollectorRegistry()
    metrics = WorkerMetrics(registry)
    topics = Topics(kafka.topic_prefix)
    conf.data_dir.mkdir(parents=True, exist_ok=True)
    app = BatchApp(
        conf.app_id,
        broker=f"kafka://{kafka.bootstrap}",
        broker_credentials=faust_credentials(kafka),
        store="rocksdb://" if conf.store == "rocksdb" else "memory://",
        datadir=str(conf.data_dir),
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        web_enabled=conf.web_port > 0,
        web_port=conf.web_port or 6066,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        consumer_auto_offset_reset="earliest",
        producer_linger=conf.producer_linger_ms / 1000,
        producer_compression_type=_producer_compression(conf.producer_compression),
        producer_max_batch_size=conf.producer_max_batch_bytes,
        producer_acks=-1,
        broker_max_poll_records=conf.batch_max,
        table_standby_replicas=0,
        broker_commit_interval=1.0,
    )
    source = app.topic(
        *topics.all_events,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=kafka.partitions,
    )
    deadletter = app.topic(
        topics.deadletter,
        key_serializer="raw",
        value_serializer="raw",
        partitions=kafka.partitions,
    )
    state = app.topic(
        topics.state, key_serializer="raw", value_serializer="raw", partitions=kafka.partitions
    )
    table = app.Table(
        BLOCK_TABLE,
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=kafka.partitions,
    )
    store = TableBlockStore(table)
    worker = FoldWorker(
        conf,
        topics,
        kafka.partitions,
        codec,
        store,
        AsOf(as_of_ms),
        metrics,
    )
    source_names = set(topics.all_events)
    changelog = table.changelog_topic.get_topic_name()
    outputs = OutputTopics(
        lambda: cast(Any, app.producer)._ensure_producer(),
        [topics.state, topics.deadletter, changelog],
    )
    lag: dict[tuple[str, int], int] = {}
    metrics.attach_state(worker.sizes, lambda: lag)
    progress = {"events": 0, "dead": 0, "last_log": time.monotonic()}

    async def fold(messages: Sequence[Any]) -> None:
        await outputs.track()
        started = time.perf_counter()
        batch = [incoming(message) for message in messages]
        outcome = worker.process(batch, clock.now_ms())
        sent = [
            await deadletter.send(
                key=letter.key,
                value=letter.value,
                headers=letter.headers,
                partition=source_partition(letter),
            )
            for letter in outcome.dead_letters
        ]
        # Blocks and dead letters must be acknowledged by the broker before the batch's
        # offsets are committed (the consumer acknowledges the batch when this returns).
        await asyncio.gather(store.confirm(), *sent)
        metrics.batch_cost.observe(time.perf_counter() - started)
        progress["events"] += len(batch)
        progress["dead"] += len(outcome.dead_letters)
        _maybe_log_progress(progress, worker)

    app.on_batch(source, fold)
    app.on_refetch = lambda topic, _skipped: metrics.refetches.labels(topic).inc()

    @table.on_recover
    async def rebuild() -> None:
        partitions = assigned(app, source_names)
        started = time.perf_counter()
        # In steps, giving the event loop a turn between them (faust's timers, the consumer's
        # heartbeats): a large table must not hold the loop for the whole load.
        steps = worker.assign_in_steps(partitions, clock.now_ms())
        while True:
            try:
                next(steps)
            except StopIteration as done:
                loaded = done.value
                break
            await asyncio.sleep(0)
        log.info(
            "partitions %s assigned: %d projects loaded from the table in %.2fs, %d held",
            sorted(partitions),
            loaded,
            time.perf_counter() - started,
            len(worker.projects),
        )

    async def revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
        tps: set[Any] = args[0] if args else kwargs.get("revoked", set())
        worker.revoke({tp.partition for tp in tps if tp.topic in source_names})

    app.on_partitions_revoked.connect(receiver(revoked))

    async def publish(flush: bool, idle: bool = False) -> None:
        await outputs.track()
        budget = None if flush else SNAPSHOT_BUDGET_S
        for out in worker.publish_due(clock.now_ms(), flush=flush, budget_s=budget, idle=idle):
            await state.send(key=out.key, value=out.value, partition=out.partition)

    consumed_at_tick: dict[str, float] = {"events": 0}

    @app.timer(conf.sweep_interval_s)
    async def retention_sweep() -> None:
        tombstones = worker.sweep(clock.now_ms())
        for gone in tombstones:
            await state.send(key=gone.key, value=None, partition=gone.partition)
        if tombstones:
            await store.confirm()

    @app.timer(SNAPSHOT_TICK_S)
    async def snapshots() -> None:
        try:
            if worker.reload_slo_definitions(clock.now_ms()):
                metrics.slo_reloads.labels("applied").inc()
                log.info("SLO definitions read again from %s", worker.slo_file.path)
        except SloConfigError as exc:
            metrics.slo_reloads.labels("refused").inc()
            log.error("SLO definitions not applied, the previous ones stay in force:\n%s", exc)
        idle = progress["events"] == consumed_at_tick["events"]
        consumed_at_tick["events"] = progress["events"]
        await publish(flush=False, idle=idle)

    @app.timer(LAG_TICK_S)
    async def measure_lag() -> None:
        consumer = app.consumer
        if progress["events"] != worker_moved["events"]:
            worker_moved.update(events=progress["events"], at=time.monotonic())
        for tp in assigned_tps(app, source_names):
            consumed = worker.consumed_offsets.get((tp.topic, tp.partition))
            highwater = consumer.highwater(tp)
            if highwater is not None:
                behind = lag[(tp.topic, tp.partition)] = max(
                    0, highwater - (consumed + 1 if consumed is not None else 0)
                )
                _watch_progress(tp, consumed, behind, consumer)

    stuck_since: dict[Any, tuple[int | None, float, bool]] = {}
    worker_moved: dict[str, float] = {"events": 0, "at": time.monotonic()}

    def _watch_progress(tp: Any, consumed: int | None, behind: int, consumer: Any) -> None:
        """Warn once about a partition that is behind while the worker consumes nothing at all.

        A partition can wait its turn for a while when others hold a large backlog (the fetch
        drains partitions in order); only when the whole worker has also been idle for
        STUCK_AFTER_S is it stuck rather than queued.
        """
        now = time.monotonic()
        last = stuck_since.get(tp)
        if behind == 0 or last is None or last[0] != consumed:
            stuck_since[tp] = (consumed, now, False)
            return
        idle = now - max(last[1], worker_moved["at"])
        if not last[2] and idle > STUCK_AFTER_S:
            stuck_since[tp] = (consumed, last[1], True)
            log.warning(
                "%s:%d has not moved for %.0f s (nor anything else for %.0f s), %d message(s) "
                "behind (last consumed %s): %s",
                tp.topic,
                tp.partition,
                now - last[1],
                idle,
                behind,
                consumed,
                consumer.describe(tp),
            )

    async def final_flush(sender: Any, *args: Any, **kwargs: Any) -> None:
        await publish(flush=True)
        log.info("final flush: snapshots of every changed project published")

    app.on_before_shutdown.connect(receiver(final_flush))

    return ProcessorApp(app, worker, registry, metrics)


def _maybe_log_progress(progress: dict[str, Any], worker: FoldWorker) -> None:
    now = time.monotonic()
    if now - progress["last_log"] < PROGRESS_EVERY_S:
        return
    progress["last_log"] = now
    sizes = worker.sizes()
    log.info(
        "consumed %d messages (%d dead-lettered); %d projects, %d rows held, %d snapshots due",
        progress["events"],
        progress["dead"],
        sizes["projects"],
        sizes["state_rows"],
        sizes["snapshots_pending"],
    )
