"""Publishes encoded events to Kafka and accounts for every delivery report.

One confluent-kafka producer, idempotent with acks=all, batching (linger, lz4) for throughput,
and the murmur2 partitioner so a project's events land in the partition that aiokafka and
faust pick for the same key. Nothing is fire-and-forget: every message is counted produced,
then acknowledged or failed by its delivery report, and :meth:`Publisher.flush` raises
:class:`DeliveryFailed` when a delivery failed or did not finish in time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.kafka import client_config
from core.settings import KafkaSettings
from schemas.codec import Codec
from schemas.topics import CONFLUENT_PARTITIONER, Topics

log = logging.getLogger(__name__)

# Measured on the local broker with 100k distinct sli events (docs/events.md): zstd and lz4
# both produce about 260k msg/s, zstd sends 4.9 MB where lz4 sends 7.4 MB (none: 15 MB).
# 50 ms linger fills the batches.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "zstd",
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "partitioner": CONFLUENT_PARTITIONER,
}
MAX_KEPT_ERRORS = 10
# How long produce() waits for room in a full local queue before giving up.
QUEUE_FULL_TIMEOUT_S = 60.0
PROGRESS_EVERY = 250_000

Headers = list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None
DeliveryCallback = Callable[[KafkaError | None, Message], None]


class PublisherError(Exception):
    """The publisher could not hand a message to Kafka."""


class QueueFull(PublisherError):
    """The local queue stayed full: the broker is not taking messages."""


@dataclass(frozen=True)
class PublishReport:
    """Cumulative delivery accounting of one publisher."""

    produced: int
    acknowledged: int
    failed: int
    first_errors: list[str]
    pending: int = 0

    def __str__(self) -> str:
        text = (
            f"produced {self.produced}, acknowledged {self.acknowledged}, "
            f"failed {self.failed}, pending {self.pending}"
        )
        return text + (f"; first errors: {'; '.join(self.first_errors)}" if self.failed else "")


class DeliveryFailed(PublisherError):
    """At least one message was not delivered (failed, or still pending after the flush)."""

    def __init__(self, report: PublishReport) -> None:
        super().__init__(f"delivery failed: {report}")
        self.report = report


class Publisher:
    """Encodes events with the shared codec and produces them keyed by project id."""

    def __init__(
        self,
        kafka: KafkaSettings,
        codec: Codec | None = None,
        *,
        client_id: str = "devmetrics-producer",
        overrides: dict[str, Any] | None = None,
        producer_factory: Callable[[dict[str, Any]], Producer] = Producer,
        pseudonymize: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
        own_records: bool = False,
    ) -> None:
        """`pseudonymize` replaces personal fields before encoding; by default it is the keyed
        pseudonymizer of `kafka.pseudonym_key_file` when that is set (docs/security.md).
        `own_records`: the events are built by this program with the schema's types (the
        simulator), so Avro checks their shape and only what it cannot say is checked
        (`Codec.encode_own`); events mapped from outside input keep the full validation."""
        self._codec = codec or Codec.default()
        self._encode = self._codec.encode_own if own_records else self._codec.encode
        if pseudonymize is None and kafka.pseudonym_key_file is not None:
            from core.security.pseudonym import Pseudonymizer

            pseudonymize = Pseudonymizer.from_file(kafka.pseudonym_key_file)
        self._pseudonymize = pseudonymize
        self._topics = Topics(kafka.topic_prefix)
        self.config = client_config(kafka) | PRODUCER_DEFAULTS | {"client.id": client_id}
        self.config |= overrides or {}
        self._producer = producer_factory(self.config)
        self._produced = 0
        self._acknowledged = 0
        self._failed = 0
        self._failed_at_last_flush = 0
        self._first_errors: list[str] = []

    @property
    def codec(self) -> Codec:
        return self._codec

    @property
    def topics(self) -> Topics:
        return self._topics

    @property
    def produced(self) -> int:
        return self._produced

    @property
    def acknowledged(self) -> int:
        return self._acknowledged

    @property
    def failed(self) -> int:
        return self._failed

    def publish(
        self,
        family: str,
        event: Mapping[str, Any],
        *,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Validate, encode and produce one event to its family's topic, keyed by project id.

        `on_delivery(err, msg)` is called with this message's delivery report as well."""
        if self._pseudonymize is not None:
            event = self._pseudonymize(event)
        value = self._encode(family, event)
        key = event["project_id"].encode()
        self._produce(self._topics.events(family), key, value, None, on_delivery)

    def publish_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers = None,
        *,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Produce already-encoded bytes (dead letters, state snapshots, interop tests)."""
        self._produce(topic, key, value, headers, on_delivery)

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serve delivery reports; returns how many were served."""
        served: int = self._producer.poll(timeout_s)
        return served

    def report(self) -> PublishReport:
        """The counters so far, with messages not yet acknowledged or failed as pending."""
        return self._report(pending=self._produced - self._acknowledged - self._failed)

    def flush(self, timeout_s: float = 30.0) -> PublishReport:
        """Wait for every delivery report; raise DeliveryFailed on new failures or leftovers."""
        pending = self._producer.flush(timeout_s)
        report = self._report(pending)
        new_failures = self._failed - self._failed_at_last_flush
        self._failed_at_last_flush = self._failed
        if new_failures or pending:
            log.error("publisher %s", report)
            raise DeliveryFailed(report)
        log.info("publisher flushed: %s", report)
        return report

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.flush()
            return
        # Already failing: deliver what we can, but let the original error propagate.
        try:
            self.flush()
        except DeliveryFailed as failed:
            log.error("while handling %s: %s", exc_type.__name__, failed)

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        callback = self._on_delivery
        if on_delivery is not None:

            def callback(err: KafkaError | None, msg: Message) -> None:
                self._on_delivery(err, msg)
                on_delivery(err, msg)

        deadline: float | None = None
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=callback)
                break
            except BufferError:
                now = time.monotonic()
                deadline = deadline or now + QUEUE_FULL_TIMEOUT_S
                if now >= deadline:
                    raise QueueFull(
                        f"local producer queue full for {QUEUE_FULL_TIMEOUT_S:.0f} s "
                        f"({self._produced - self._acknowledged - self._failed} pending); "
                        f"is the broker at {self.config['bootstrap.servers']} reachable?"
                    ) from None
                self._producer.poll(0.1)
            except KafkaException as exc:
                raise PublisherError(f"cannot produce to {topic}: {exc.args[0]}") from exc
        self._produced += 1
        self._producer.poll(0)
        if self._produced % PROGRESS_EVERY == 0:
            log.info("publisher progress: %s", self.report())

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._acknowledged += 1
            return
        self._failed += 1
        if len(self._first_errors) < MAX_KEPT_ERRORS:
            key = msg.key()
            self._first_errors.append(
                f"{msg.topic()} key={key.decode(errors='replace') if key else None}: {err.str()}"
            )
            log.warning("delivery failed: %s", self._first_errors[-1])

    def _report(self, pending: int) -> PublishReport:
        return PublishReport(
            produced=self._produced,
            acknowledged=self._acknowledged,
            failed=self._failed,
            first_errors=list(self._first_errors),
            pending=pending,
        )
