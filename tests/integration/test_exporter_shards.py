"""Two exporter shards against a real broker: each project is served by exactly one shard."""

from __future__ import annotations

import gzip
import time
import urllib.request
import uuid
from collections import defaultdict

import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families
from support.snapshots import example_record

from core.kafka import client_config, ensure_topics
from core.settings import KafkaSettings
from exporters.runner import ShardOptions, ShardRunner
from exporters.series import max_series
from schemas.codec import Codec
from schemas.topics import CONFLUENT_PARTITIONER, Topics

pytestmark = pytest.mark.integration

PROJECTS = [f"proj-{i:02d}" for i in range(16)] + ['odd "name"\\']


def _publish(kafka: KafkaSettings, records: list[tuple[bytes, bytes | None]]) -> dict[bytes, int]:
    """Produce (key, value) records to the state topic; return each key's partition."""
    producer = Producer({**client_config(kafka), "partitioner": CONFLUENT_PARTITIONER})
    partitions: dict[bytes, int] = {}

    def delivered(err, msg) -> None:
        assert err is None, err
        partitions[msg.key()] = msg.partition()

    for key, value in records:
        producer.produce(
            Topics(kafka.topic_prefix).state, key=key, value=value, on_delivery=delivered
        )
    assert producer.flush(30) == 0
    return partitions


def _scrape(address: str, accept_gzip: bool) -> dict[tuple[str, frozenset], float]:
    headers = {"Accept-Encoding": "gzip"} if accept_gzip else {}
    request = urllib.request.Request(f"http://{address}/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        assert response.headers.get("Content-Encoding") == ("gzip" if accept_gzip else None)
    text = (gzip.decompress(body) if accept_gzip else body).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_shards_split_the_projects_by_partition(kafka_settings: KafkaSettings) -> None:
    codec = Codec.default()
    records = {p: example_record(p, as_of_ms=1_750_000_000_000 + i) for i, p in enumerate(PROJECTS)}
    published: list[tuple[bytes, bytes | None]] = [
        (p.encode(), codec.encode("state", r)) for p, r in records.items()
    ]
    # An older snapshot first (the newer one must win), a deleted project, a corrupt record.
    stale = dict(records["proj-00"], as_of=1_600_000_000_000)
    published.insert(0, (b"proj-00", codec.encode("state", stale)))
    published += [(b"proj-15", None), (b"proj-01", b"\xc3\x01corrupt")]
    partitions = _publish(kafka_settings, published)
    expected_live = set(PROJECTS) - {"proj-15"}

    runners = [
        ShardRunner(kafka_settings, ShardOptions(shard=i, shards=2, port=0), codec)
        for i in range(2)
    ]
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 60
        while sum(len(r.state.projects()) for r in runners) < len(expected_live) or not all(
            r.state.caught_up for r in runners
        ):
            assert time.monotonic() < deadline, "shards did not read the state topic in 60 s"
            time.sleep(0.2)
        scraped = [_scrape(r.address, accept_gzip=i == 0) for i, r in enumerate(runners)]
    finally:
        for runner in runners:
            runner.stop()

    served: dict[str, list[int]] = defaultdict(list)
    for shard, values in enumerate(scraped):
        for name, labels in values:
            if name == "devmetrics_project_info":
                served[dict(labels)["project"]].append(shard)
    assert set(served) == expected_live
    for project, shards in served.items():
        assert shards == [partitions[project.encode()] % 2], project

    for project in expected_live:
        shard = served[project][0]
        values, record = scraped[shard], records[project]
        deployments = next(
            m["value"]
            for m in record["metrics"]
            if m["name"] == "devmetrics_dora_deployments" and m["labels"] == {"window": "7d"}
        )
        key = frozenset({("project", project), ("window", "7d")})
        assert values[("devmetrics_dora_deployments", key)] == deployments
        as_of = values[
            ("devmetrics_state_as_of_timestamp_seconds", frozenset({("project", project)}))
        ]
        assert as_of == record["as_of"] / 1000
        info = frozenset({("project", project), ("team", "platform")})
        assert values[("devmetrics_project_info", info)] == 1

    total_series = sum(v[("devmetrics_exporter_series", frozenset())] for v in scraped)
    assert total_series == max_series(1) * len(expected_live)
    rejected = sum(
        v[("devmetrics_exporter_records_rejected_total", frozenset({("reason", "undecodable")}))]
        for v in scraped
    )
    assert rejected == 1
    tombstones = sum(
        v[("devmetrics_exporter_tombstones_applied_total", frozenset())] for v in scraped
    )
    assert tombstones == 1


def test_a_shard_started_before_the_state_topic_exists_waits_for_it(
    kafka_bootstrap: str,
) -> None:
    """The shard asks for the topic's metadata again until the topic appears (the processors
    create it), instead of exiting at start."""
    kafka = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=2
    )
    codec = Codec.default()
    runner = ShardRunner(kafka, ShardOptions(shard=0, shards=1, port=0), codec)
    runner.start()
    try:
        time.sleep(3)  # the topic is unknown for a while: the shard keeps asking
        assert runner.wait(0) is False, "the shard stopped while the topic did not exist"
        ensure_topics(kafka)
        _publish(kafka, [(b"proj-late", codec.encode("state", example_record("proj-late")))])
        deadline = time.monotonic() + 60
        while "proj-late" not in runner.state.projects():
            assert time.monotonic() < deadline, "the shard did not serve the late topic in 60 s"
            time.sleep(0.2)
    finally:
        runner.stop()
