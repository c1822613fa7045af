"""Simulator throughput end to end (generate, encode, produce, acknowledged) against raw
confluent-kafka producing the same pre-encoded bytes with the same producer config.

Run: pytest -m bench tests/bench/bench_simulator.py -s
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from confluent_kafka import Producer

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from producers.publisher import Publisher
from producers.simulator.model import DAY_MS
from producers.simulator.runner import RunPlan, backfill
from producers.simulator.scenarios import default_requests, resolve_requests
from schemas.codec import Codec
from schemas.topics import Topics

pytestmark = pytest.mark.bench

PROJECTS = 200
DAYS = 7
T = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _settings(bootstrap: str) -> KafkaSettings:
    kafka = KafkaSettings(bootstrap=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}")
    ensure_topics(kafka)
    return kafka


def _plan() -> RunPlan:
    ids = [f"proj-{i:04d}" for i in range(1, PROJECTS + 1)]
    spans = resolve_requests(default_requests(PROJECTS, 1), ids, T)
    return RunPlan(
        seed=1, n_projects=PROJECTS, end_ms=T, days=DAYS, sli_interval_s=300, scenarios=spans
    )


class _Collect:
    """A sink that keeps (family, event) pairs: the generate-only baseline."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    def publish(self, family: str, event: Mapping[str, Any]) -> None:
        self.events.append((family, event))

    def poll(self, timeout_s: float = 0.0) -> int:
        return 0


def test_simulator_end_to_end_vs_raw_produce(kafka_bootstrap: str) -> None:
    plan = _plan()

    started = time.perf_counter()
    sink = _Collect()
    backfill(plan, sink, None)
    generate_s = time.perf_counter() - started
    events = sink.events
    n = len(events)

    kafka = _settings(kafka_bootstrap)
    started = time.perf_counter()
    publisher = Publisher(kafka, client_id="bench-simulator", own_records=True)
    backfill(plan, publisher, None)
    report = publisher.flush(timeout_s=300)
    end_to_end_s = time.perf_counter() - started
    assert report.produced == report.acknowledged == n

    # The same run encoding with the full validation, as before the fast path.
    validated_kafka = _settings(kafka_bootstrap)
    started = time.perf_counter()
    validated = Publisher(validated_kafka, client_id="bench-simulator-validated")
    backfill(plan, validated, None)
    report = validated.flush(timeout_s=300)
    validated_s = time.perf_counter() - started
    assert report.produced == report.acknowledged == n

    codec = Codec.default()
    started = time.perf_counter()
    topics = Topics(kafka.topic_prefix)
    encoded = [(topics.events(f), e["project_id"].encode(), codec.encode(f, e)) for f, e in events]
    encode_s = time.perf_counter() - started
    del events, sink

    raw_kafka = _settings(kafka_bootstrap)
    raw_topics = Topics(raw_kafka.topic_prefix)
    renamed = [(raw_topics.events(topics.family_of(t)), k, v) for t, k, v in encoded]
    acked = 0

    def on_delivery(err: object, _msg: object) -> None:
        nonlocal acked
        if err is None:
            acked += 1

    producer = Producer(publisher.config)  # the publisher's exact producer config
    started = time.perf_counter()
    for topic, key, value in renamed:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(300)
    raw_s = time.perf_counter() - started
    assert remaining == 0 and acked == n

    print(
        f"\n{PROJECTS} projects x {DAYS} days: {n:,} events"
        f"\n  generate only            {n / generate_s:>12,.0f} events/s ({generate_s:.1f} s)"
        f"\n  encode only              {n / encode_s:>12,.0f} events/s ({encode_s:.1f} s)"
        f"\n  simulator end to end     {n / end_to_end_s:>12,.0f} events/s ({end_to_end_s:.1f} s)"
        f"\n  the same, full validation {n / validated_s:>11,.0f} events/s ({validated_s:.1f} s)"
        f"\n  raw produce, pre-encoded {n / raw_s:>12,.0f} events/s ({raw_s:.1f} s)"
        f"\n  ratio end-to-end / raw   {raw_s / end_to_end_s:>12.3f}"
        f"\n  ratio, full validation   {raw_s / validated_s:>12.3f}"
    )
    assert n > 0.9 * PROJECTS * DAYS * DAY_MS / 300_000  # about one SLI sample per interval
