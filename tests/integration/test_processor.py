"""Processor workers as subprocesses against the real broker: exact state, dead letters,
duplicates, SIGKILL and restart, and two workers sharing the partitions."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from core.kafka import client_config
from core.settings import KafkaSettings
from devmetrics.stack.process import free_port
from processors.aggregators import ProjectLedger
from producers.publisher import Publisher
from schemas.codec import Codec
from schemas.topics import Topics

pytestmark = pytest.mark.integration

T = 1_772_366_400_000  # 2026-03-01 12:00 UTC, the fixed as-of time of every worker here
M, H, D = 60_000, 3_600_000, 86_400_000
Event = tuple[str, dict[str, Any]]
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _event(family: str, t: int, project: str, **fields: Any) -> Event:
    defaults: dict[str, dict[str, Any]] = {
        "deployment": {
            "type": "finished",
            "deployment_id": "d",
            "environment": "production",
            "status": "success",
            "kind": "planned",
        },
        "change": {"type": "committed", "change_id": "c", "committed_at": t},
        "rfc": {"type": "submitted", "rfc_id": "r"},
        "sli": {
            "type": "window_sample",
            "service": "api",
            "interval_seconds": 10,
            "requests_total": 10,
            "requests_good": 10,
        },
    }
    record = {
        "event_id": str(uuid.uuid4()),
        "project_id": project,
        "occurred_at": t,
        "source": "simulator",
        "actor": {"kind": "human", "name": "h", "model": None},
        **defaults[family],
        **fields,
    }
    return family, record


def _series(metrics: list[dict[str, Any]]) -> Series:
    return {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in metrics}


Expected = dict[str, tuple[int, Series, str | None]]


def _reference(events: list[Event]) -> Expected:
    """(distinct events, samples, team) per project from the pure state: what workers publish."""
    codec = Codec.default()
    ledgers: dict[str, ProjectLedger] = {}
    for family, record in events:
        ledger = ledgers.setdefault(record["project_id"], ProjectLedger(record["project_id"]))
        ledger.fold(family, codec.decode(codec.encode(family, record)).record)
    return {
        p: (
            ledger.state.events_applied,
            _series([s._asdict() for s in ledger.snapshot(T)]),
            ledger.state.team,
        )
        for p, ledger in ledgers.items()
    }


def _publish(kafka: KafkaSettings, events: list[Event]) -> None:
    with Publisher(kafka) as publisher:
        for family, record in events:
            publisher.publish(family, record)
        publisher.flush()


class WorkerProcess:
    """`devmetrics process` in a subprocess, with its own data dir and metrics port."""

    def __init__(self, kafka: KafkaSettings, app_id: str, data_dir: Path, log: Path) -> None:
        self.metrics_port = free_port()
        env = {
            **os.environ,
            "DEVMETRICS_KAFKA__BOOTSTRAP": kafka.bootstrap,
            "DEVMETRICS_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
            "DEVMETRICS_KAFKA__PARTITIONS": str(kafka.partitions),
        }
        command = [
            sys.executable,
            "-c",
            "from devmetrics.cli import main; main()",
            "process",
            "--app-id",
            app_id,
            "--data-dir",
            str(data_dir),
            "--web-port",
            "0",
            "--metrics-port",
            str(self.metrics_port),
            "--as-of",
            str(T),
            "--snapshot-interval",
            "0.5",
        ]
        self.log = log
        self.proc = subprocess.Popen(
            command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def spawn(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> Iterator[Callable[[str, str], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(app_id: str, name: str) -> WorkerProcess:
        worker = WorkerProcess(kafka_settings, app_id, tmp_path / name, tmp_path / f"{name}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _consume_all(kafka: KafkaSettings, topic: str) -> list[Any]:
    """Every message now in the topic, from the beginning."""
    consumer = Consumer(
        {
            **client_config(kafka),
            "group.id": f"read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign(parts)
        out: list[Any] = []
        remaining = {p: end for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + 30
        while remaining and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            out.append(msg)
            offset, partition = msg.offset(), msg.partition()
            assert offset is not None and partition is not None
            if offset + 1 >= remaining.get(partition, 0):
                remaining.pop(partition, None)
        return out
    finally:
        consumer.close()


def _wait_for_states(
    kafka: KafkaSettings,
    expected: Expected,
    timeout_s: float,
    workers: list[WorkerProcess],
) -> dict[str, dict[str, Any]]:
    """Latest state per project once every project shows its expected event count."""
    codec = Codec.default()
    deadline = time.monotonic() + timeout_s
    latest: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for msg in _consume_all(kafka, Topics(kafka.topic_prefix).state):
            latest[msg.key().decode()] = codec.decode(msg.value()).record
        done = all(
            p in latest and latest[p]["events_applied"] == count
            for p, (count, _, _) in expected.items()
        )
        if done:
            return latest
        for worker in workers:
            assert worker.proc.poll() is None, worker.log.read_text()[-3000:]
        time.sleep(1)
    seen = {p: r["events_applied"] for p, r in latest.items()}
    pytest.fail(f"states not complete after {timeout_s}s: {seen}")


def _assert_states_match(latest: dict[str, dict[str, Any]], expected: Expected) -> None:
    assert set(latest) == set(expected)
    for project, (count, series, team) in expected.items():
        record = latest[project]
        assert record["as_of"] == T
        assert record["events_applied"] == count
        assert _series(record["metrics"]) == series, project
        assert record["team"] == team, project


def _backfill(projects: int, per_project: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = []
    for p in range(projects):
        project = f"proj-{p}"
        for i in range(per_project):
            t = T - rng.randrange(1, 30 * D)
            team = rng.choice([None, f"team-{p % 3}", f"team-{i % 5}"])
            kind = i % 3
            if kind == 0:
                events.append(
                    _event(
                        "deployment",
                        t,
                        project,
                        deployment_id=f"d{i}",
                        change_ids=[f"c{i + 1}"],
                        team=team,
                    )
                )
            elif kind == 1:
                events.append(
                    _event(
                        "change",
                        t - rng.randrange(D),
                        project,
                        change_id=f"c{i}",
                        committed_at=t - rng.randrange(D, 2 * D),
                        team=team,
                    )
                )
            else:
                total = rng.randrange(1, 100)
                events.append(
                    _event(
                        "sli",
                        t,
                        project,
                        requests_total=total,
                        requests_good=total - rng.randrange(0, 2),
                        team=team,
                    )
                )
    rng.shuffle(events)
    return events


def test_one_worker_exact_state_dead_letters_and_duplicates(
    kafka_settings: KafkaSettings, spawn: Callable[[str, str], WorkerProcess]
) -> None:
    topics = Topics(kafka_settings.topic_prefix)
    good = [
        _event("change", T - 3 * H, "alpha", change_id="c1", committed_at=T - 3 * H, team="core"),
        # The latest event of alpha states no team: the one before it decides.
        _event("deployment", T - 1 * H, "alpha", deployment_id="d1", change_ids=["c1"]),
        _event("deployment", T - 2 * D, "alpha", deployment_id="d2", kind="hotfix", team="old"),
        _event("deployment", T - 1 * D, "beta", deployment_id="d9"),  # exactly T - 1d
        _event("sli", T - 5 * M + 1, "beta", requests_total=100, requests_good=97),
        _event("sli", T, "beta", requests_total=50, requests_good=50),
    ]
    duplicates = [good[1], good[4]]
    _publish(kafka_settings, good + duplicates)
    codec = Codec.default()
    rfc_ok = codec.encode("rfc", _event("rfc", T - H, "alpha")[1])
    bad = [
        (topics.events("rfc"), b"alpha", b"not avro", "undecodable"),
        (topics.events("task"), b"alpha", rfc_ok, "unknown_schema"),
        (
            topics.events("rfc"),
            b"alpha",
            codec.encode("rfc", _event("rfc", T - 32 * D, "alpha")[1]),
            "too_old",
        ),
        (
            topics.events("rfc"),
            b"alpha",
            codec.encode("rfc", _event("rfc", T + H, "alpha")[1]),
            "too_new",
        ),
        (topics.events("rfc"), b"gamma", rfc_ok, "misrouted"),
    ]
    with Publisher(kafka_settings) as publisher:
        for topic, key, value, _reason in bad:
            publisher.publish_raw(topic, key, value)
        publisher.flush()

    worker = spawn(f"app-{uuid.uuid4().hex[:8]}", "w1")
    expected = _reference(good)
    latest = _wait_for_states(kafka_settings, expected, 90, [worker])
    _assert_states_match(latest, expected)
    # Hand-computed figures of the same events.
    alpha = _series(latest["alpha"]["metrics"])
    assert alpha[("devmetrics_dora_deployments", (("window", "1d"),))] == 1.0
    assert alpha[("devmetrics_dora_deployments", (("window", "7d"),))] == 2.0
    assert alpha[
        ("devmetrics_dora_lead_time_seconds", (("quantile", "0.5"), ("window", "1d")))
    ] == (7200.0)
    assert alpha[("devmetrics_dora_rework_ratio", (("window", "7d"),))] == 0.5
    beta = _series(latest["beta"]["metrics"])
    assert beta[("devmetrics_dora_deployments", (("window", "1d"),))] == 0.0
    five = (("service", "api"), ("slo", "availability"), ("window", "5m"))
    assert beta[("devmetrics_slo_requests", five)] == 150.0
    assert beta[("devmetrics_slo_sli_ratio", five)] == 147 / 150
    assert latest["alpha"]["events_applied"] == 3 and latest["beta"]["events_applied"] == 3
    assert (latest["alpha"]["team"], latest["beta"]["team"]) == ("core", None)

    letters = _consume_all(kafka_settings, topics.deadletter)
    by_reason = {dict(m.headers())["dlq.reason"].decode(): m for m in letters}
    assert sorted(by_reason) == sorted(reason for *_, reason in bad)
    for topic, key, value, reason in bad:
        headers = dict(by_reason[reason].headers())
        assert headers["dlq.topic"].decode() == topic
        assert int(headers["dlq.offset"]) >= 0 and int(headers["dlq.partition"]) >= 0
        assert headers["dlq.error"]
        assert (by_reason[reason].key(), by_reason[reason].value()) == (key, value)


def test_sigkill_mid_backfill_then_restart_loses_and_doubles_nothing(
    kafka_settings: KafkaSettings, spawn: Callable[[str, str], WorkerProcess]
) -> None:
    events = _backfill(projects=12, per_project=400, seed=3)
    _publish(kafka_settings, events)
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    first = spawn(app_id, "w1")
    state_topic = Topics(kafka_settings.topic_prefix).state
    deadline = time.monotonic() + 60
    while not _consume_all(kafka_settings, state_topic) and time.monotonic() < deadline:
        time.sleep(0.5)
    first.kill()  # mid-backfill: some offsets committed, some blocks in the changelog
    # A new data dir: the state must come back from the table's changelog alone.
    second = spawn(app_id, "w1-restarted")
    expected = _reference(events)
    latest = _wait_for_states(kafka_settings, expected, 150, [second])
    _assert_states_match(latest, expected)


def _assigned_partitions(worker: WorkerProcess) -> set[int] | None:
    """The partitions of the worker's latest assignment, from its log; None before any."""
    lines = [ln for ln in worker.log.read_text().splitlines() if "assigned:" in ln]
    if not lines:
        return None
    listed = lines[-1].split("partitions [", 1)[1].split("]", 1)[0]
    return {int(p) for p in listed.split(",") if p.strip()}


def test_two_workers_publish_the_same_state_as_one(
    kafka_settings: KafkaSettings, spawn: Callable[[str, str], WorkerProcess]
) -> None:
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    workers = [spawn(app_id, "a"), spawn(app_id, "b")]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        shares = [_assigned_partitions(w) for w in workers]
        first, second = shares
        # Each worker logs its latest assignment; right after a rebalance one may still show
        # its previous share, so wait until the shares are disjoint and cover every partition.
        if (
            first
            and second
            and first | second == set(range(kafka_settings.partitions))
            and not first & second
        ):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the two workers did not split the partitions: {shares}")
    events = _backfill(projects=16, per_project=60, seed=5)
    _publish(kafka_settings, events)
    expected = _reference(events)
    latest = _wait_for_states(kafka_settings, expected, 150, workers)
    _assert_states_match(latest, expected)
