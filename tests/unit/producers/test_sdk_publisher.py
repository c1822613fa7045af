"""Publisher accounting and back-pressure, with a stand-in for the librdkafka producer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from confluent_kafka import Producer

from core.settings import KafkaSettings
from producers import publisher as publisher_module
from producers.publisher import DeliveryFailed, Publisher, PublishReport, QueueFull
from schemas.codec import Codec, InvalidEvent
from schemas.examples import example_event

pytestmark = pytest.mark.unit


@dataclass
class FakeMessage:
    _topic: str
    _key: bytes | None
    _value: bytes

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes | None:
        return self._key


class FakeError:
    def str(self) -> str:
        return "Broker: Not enough in-sync replicas"


@dataclass
class FakeProducer:
    """Queues produced messages; poll/flush deliver them, failing the keys in `fail_keys`."""

    config: dict[str, Any]
    buffer_errors: int = 0
    fail_keys: set[bytes] = field(default_factory=set)
    hold: bool = False
    queued: list[tuple[FakeMessage, Any]] = field(default_factory=list)
    sent: list[FakeMessage] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)

    def produce(self, topic, value, key, headers=None, on_delivery=None) -> None:
        if self.buffer_errors:
            self.buffer_errors -= 1
            raise BufferError("Local: Queue full")
        self.queued.append((FakeMessage(topic, key, value), on_delivery))

    def poll(self, timeout: float) -> int:
        self.polls.append(timeout)
        return self._deliver()

    def flush(self, timeout: float) -> int:
        self._deliver()
        return len(self.queued)

    def _deliver(self) -> int:
        if self.hold:
            return 0
        served, self.queued = self.queued, []
        for msg, callback in served:
            self.sent.append(msg)
            callback(FakeError() if msg.key() in self.fail_keys else None, msg)
        return len(served)


def make(**fake: Any) -> tuple[Publisher, FakeProducer]:
    holder: dict[str, FakeProducer] = {}

    def factory(config: dict[str, Any]) -> Producer:
        holder["p"] = FakeProducer(config, **fake)
        return cast(Producer, holder["p"])

    pub = Publisher(KafkaSettings(topic_prefix="dm"), Codec.default(), producer_factory=factory)
    return pub, holder["p"]


def test_configuration_is_idempotent_batched_and_murmur2() -> None:
    _, fake = make()
    assert {k: fake.config[k] for k in publisher_module.PRODUCER_DEFAULTS} == {
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "zstd",
        "linger.ms": 50,
        "batch.size": 1_000_000,
        "partitioner": "murmur2_random",
    }
    assert fake.config["client.id"] == "devmetrics-producer"
    assert fake.config["bootstrap.servers"] == "127.0.0.1:9092"


def test_overrides_win_over_defaults() -> None:
    fake_holder: list[FakeProducer] = []

    def factory(config: dict[str, Any]) -> Producer:
        fake_holder.append(FakeProducer(config))
        return cast(Producer, fake_holder[0])

    Publisher(KafkaSettings(), overrides={"linger.ms": 5}, producer_factory=factory)
    assert fake_holder[0].config["linger.ms"] == 5


def test_publish_keys_by_project_and_routes_by_family() -> None:
    pub, fake = make()
    event = example_event("incident")
    pub.publish("incident", event)
    assert [(m.topic(), m.key()) for m in fake.sent] == [("dm.events.incident", b"proj-0001")]
    assert Codec.default().decode(fake.sent[0]._value).record == event
    assert pub.flush() == PublishReport(1, 1, 0, [], 0)


def test_buffer_errors_are_retried_after_polling() -> None:
    pub, fake = make(buffer_errors=2)
    pub.publish("incident", example_event("incident"))
    assert fake.polls[:2] == [0.1, 0.1]
    assert (pub.produced, pub.acknowledged) == (1, 1)


def test_a_queue_that_stays_full_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publisher_module, "QUEUE_FULL_TIMEOUT_S", 0.0)
    pub, _ = make(buffer_errors=10**9)
    with pytest.raises(QueueFull, match="queue full"):
        pub.publish("incident", example_event("incident"))
    assert pub.produced == 0


def test_failed_deliveries_raise_once_with_the_report() -> None:
    pub, _ = make(fail_keys={b"bad"})
    pub.publish("incident", example_event("incident"))
    pub.publish("incident", example_event("incident", project_id="bad"))
    with pytest.raises(DeliveryFailed) as info:
        pub.flush()
    assert info.value.report == PublishReport(
        2, 1, 1, ["dm.events.incident key=bad: Broker: Not enough in-sync replicas"], 0
    )
    assert pub.flush() == PublishReport(
        2, 1, 1, ["dm.events.incident key=bad: Broker: Not enough in-sync replicas"], 0
    )


def test_messages_left_after_flush_raise() -> None:
    pub, _ = make(hold=True)
    pub.publish("incident", example_event("incident"))
    with pytest.raises(DeliveryFailed) as info:
        pub.flush(0.1)
    assert info.value.report == PublishReport(1, 0, 0, [], 1)


def test_context_manager_flushes_and_keeps_the_original_error() -> None:
    pub, fake = make(fail_keys={b"proj-0001"})
    with pytest.raises(ValueError, match="boom"), pub:
        pub.publish("incident", example_event("incident"))
        raise ValueError("boom")
    assert pub.failed == 1
    assert len(fake.sent) == 1


def test_invalid_events_are_refused_before_producing() -> None:
    pub, fake = make()
    with pytest.raises(InvalidEvent, match="severity"):
        pub.publish("incident", example_event("incident", severity="sev9"))
    assert (pub.produced, fake.queued, fake.sent) == (0, [], [])
