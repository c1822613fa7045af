"""The project lifecycle on a real broker: a project with no event within the retention is
removed by the worker's retention sweep, a tombstone goes to the state topic, and the
exporter shard drops its series; a project that still reports stays.

Time moves the way a backfill moves it: a first worker folds both projects at T1; a second
worker of the same app and data folder starts at T2 = T1 + 32 days, loads them from the
table, receives a new event of the steady project only, and sweeps.
"""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from support.pipeline import Subprocess, kafka_env, wait_for

from core.kafka import client_config
from core.settings import KafkaSettings
from devmetrics.stack.process import free_port
from producers.publisher import Publisher
from schemas.codec import Codec
from schemas.topics import Topics

pytestmark = pytest.mark.integration

T1 = 1_772_366_400_000  # 2026-03-01 12:00 UTC
H, D = 3_600_000, 86_400_000
T2 = T1 + 32 * D


def _rfc(project: str, t: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "project_id": project,
        "occurred_at": t,
        "source": "simulator",
        "actor": {"kind": "human", "name": "h", "model": None},
        "type": "submitted",
        "rfc_id": f"r-{uuid.uuid4().hex[:6]}",
    }


def _publish(kafka: KafkaSettings, *records: dict[str, Any]) -> None:
    with Publisher(kafka) as publisher:
        for record in records:
            publisher.publish("rfc", record)
        publisher.flush()


def _worker(kafka: KafkaSettings, workdir: Path, app_id: str, as_of: int, name: str) -> Subprocess:
    worker = Subprocess(
        [
            *("process", "--app-id", app_id, "--data-dir", str(workdir / "worker")),
            *("--web-port", "0", "--metrics-port", str(free_port())),
            *("--as-of", str(as_of), "--snapshot-interval", "0.5"),
        ],
        {**kafka_env(kafka), "DEVMETRICS_PROCESSOR__SWEEP_INTERVAL_S": "1"},
        workdir / f"{name}.log",
    )
    return worker


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


class StateTopic:
    """Every record of the state topic: (project, as-of time T of the snapshot, or None for a
    tombstone)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.codec = Codec.default()
        self.records: list[tuple[str, int | None]] = []
        self.consumer = Consumer(
            {**client_config(kafka), "group.id": f"t-{uuid.uuid4()}", "enable.auto.commit": False}
        )
        topic = Topics(kafka.topic_prefix).state
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(kafka.partitions)])

    def read(self) -> list[tuple[str, int | None]]:
        for message in self.consumer.consume(1000, timeout=1.0):
            if message.error() is not None:
                continue
            value = message.value()
            key = (message.key() or b"").decode()
            as_of = None if value is None else self.codec.decode(value).record["as_of"]
            self.records.append((key, as_of))
        return self.records


@pytest.mark.timeout(300)
def test_a_silent_project_leaves_the_state_and_the_exporter(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    app_id = f"sweep-{uuid.uuid4().hex[:8]}"
    state = StateTopic(kafka_settings)
    exporter_port = free_port()
    first = second = exporter = None
    try:
        _publish(kafka_settings, _rfc("fading", T1 - 2 * H), _rfc("steady", T1 - H))
        first = _worker(kafka_settings, tmp_path, app_id, T1, "worker-1")
        wait_for(
            lambda: {("fading", T1), ("steady", T1)} <= set(state.read()),
            120,
            what="the first worker's snapshots of both projects",
        )
        exporter = Subprocess(
            ["export", "--shard", "0", "--shards", "1", "--port", str(exporter_port)],
            kafka_env(kafka_settings),
            tmp_path / "exporter.log",
        )
        wait_for(
            lambda: 'project="fading"' in _metrics(exporter_port),
            60,
            what="the exporter to serve the fading project",
        )
        first.stop()
        assert first.proc.returncode == 0, first.tail()

        _publish(kafka_settings, _rfc("steady", T2 - H))
        second = _worker(kafka_settings, tmp_path, app_id, T2, "worker-2")
        wait_for(
            lambda: ("fading", None) in state.read(),
            120,
            what="the tombstone of the fading project",
        )
        # Its block of T1 has expired too: the steady project lives on from its new event.
        wait_for(
            lambda: ("steady", T2) in state.read(),
            60,
            what="the steady project's snapshot at T2",
        )
        served = wait_for(
            lambda: (m := _metrics(exporter_port)) and 'project="fading"' not in m and m,
            60,
            what="the exporter to drop the fading project's series",
        )
        assert 'devmetrics_project_info{project="steady"' in served
        log = second.log_file.read_text()
        assert "retention sweep: 1 project(s) without an event since T - 31d removed" in log
        assert "(fading)" in log
        # Nothing of the fading project is published after its tombstone.
        records = state.read()
        gone_at = records.index(("fading", None))
        assert not [r for r in records[gone_at + 1 :] if r[0] == "fading"]
    finally:
        for process in (first, second, exporter):
            if process is not None:
                process.stop()
        state.consumer.close()
