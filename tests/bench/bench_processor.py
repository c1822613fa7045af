"""Processor benchmarks (run with `pytest -m bench tests/bench/bench_processor.py -s`).

1. Throughput: events/s through one worker, from the event topics to published state, next to
   the raw confluent-kafka consume rate of the same topics in the same run.
2. Memory: the RSS of the state of 1000 projects with 30 days of events, folded through the
   pure state (the worker holds exactly these objects, plus a bounded block cache).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import random
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from devmetrics.kafka_admin import client_config
from devmetrics.settings import KafkaSettings
from processors.aggregators.rows import (
    ChangeRow,
    DeploymentRow,
    ReviewRow,
    RfcRow,
    SliRow,
    TaskRow,
    TestRunRow,
)
from processors.aggregators.samples import DAY_MS, MINUTE_MS
from processors.aggregators.state import ProjectState
from processors.settings import SloPolicy
from producers.publisher import Publisher
from schemas.topics import Topics

pytestmark = pytest.mark.bench


def _load_harness():
    """The integration tests' worker harness and event mix, loaded by path."""
    path = Path(__file__).resolve().parents[1] / "integration" / "test_processor.py"
    spec = importlib.util.spec_from_file_location("processor_harness", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
spawn = harness.spawn  # the fixture, re-exported for this module

T = 1_772_366_400_000
EVENTS = int(os.environ.get("BENCH_PROCESSOR_EVENTS", "60000"))
PROJECTS = int(os.environ.get("BENCH_PROCESSOR_PROJECTS", "200"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _raw_consume_rate(kafka: KafkaSettings, total: int) -> float:
    consumer = Consumer(
        {**client_config(kafka), "group.id": f"raw-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    parts = [
        TopicPartition(t, p, 0)
        for t in Topics(kafka.topic_prefix).all_events
        for p in range(kafka.partitions)
    ]
    consumer.assign(parts)
    seen, started = 0, time.perf_counter()
    while seen < total:
        seen += sum(1 for m in consumer.consume(10_000, timeout=1.0) if not m.error())
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


def _scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("devmetrics_processor_events_consumed_total"):
            out["consumed"] = out.get("consumed", 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("devmetrics_processor_snapshots_published_total"):
            out["snapshots"] = float(line.rsplit(" ", 1)[1])
    return out


def test_throughput_against_raw_consume(
    kafka_settings: KafkaSettings, spawn: Callable[..., object]
) -> None:
    events = harness._backfill(projects=PROJECTS, per_project=EVENTS // PROJECTS, seed=11)
    with Publisher(kafka_settings) as publisher:
        for family, record in events:
            publisher.publish(family, record)
        publisher.flush(120)
    raw = _raw_consume_rate(kafka_settings, len(events))
    worker = spawn(f"bench-{uuid.uuid4().hex[:6]}", "bench")
    port = worker.metrics_port  # type: ignore[attr-defined]
    first_at = done_at = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            consumed = _scrape(port).get("consumed", 0.0)
        except OSError:
            consumed = 0.0
        now = time.monotonic()
        if consumed and first_at is None:
            first_at = now
        if consumed >= len(events):
            done_at = now
            break
        time.sleep(0.2)
    assert first_at is not None and done_at is not None, "the worker did not consume everything"
    rate = len(events) / max(done_at - first_at, 1e-3)
    print(
        json.dumps(
            {
                "events": len(events),
                "projects": PROJECTS,
                "worker_events_per_s": round(rate),
                "raw_consume_events_per_s": round(raw),
                "ratio": round(rate / raw, 3),
            }
        )
    )


def _synthetic_state(
    project: str, rng: random.Random, days: int, sli_every_min: int
) -> ProjectState:
    state = ProjectState(project, SloPolicy())
    key = rng.getrandbits
    for day in range(days):
        base = T - (day + 1) * DAY_MS
        for i in range(10):
            t = base + rng.randrange(DAY_MS)
            state.apply(
                DeploymentRow(
                    t, key(64), f"d{day}-{i}", True, "planned", (f"c{day}-{i}",), None, False
                )
            )
            state.apply(ChangeRow(t - 3_600_000, key(64), f"c{day}-{i}", t - 7_200_000))
            state.apply(
                ReviewRow(t, key(64), "completed", f"v{day}-{i}", "ai_agent", "approved", 1, 2)
            )
            state.apply(TestRunRow(t, key(64), "human", 90, 3, 1, 120.5, 0.8))
        for i in range(20):
            t = base + rng.randrange(DAY_MS)
            state.apply(TaskRow(t, key(64), "completed", f"t{day}-{i}", "ai_agent", 0.12))
        for i in range(5):
            state.apply(
                RfcRow(
                    base + rng.randrange(DAY_MS), key(64), "submitted", f"r{day}-{i}", "human", None
                )
            )
        for minute in range(0, 1440, sli_every_min):
            state.apply(SliRow(base + (minute + 1) * MINUTE_MS, key(64), "api", 600, 599, 590))
    return state


def test_memory_of_1000_projects_with_30_days() -> None:
    projects = int(os.environ.get("BENCH_MEMORY_PROJECTS", "1000"))
    sli_every = int(os.environ.get("BENCH_SLI_EVERY_MIN", "1"))
    rng = random.Random(1)
    gc.collect()
    before = _rss_mb()
    started = time.perf_counter()
    states = [_synthetic_state(f"p{i}", rng, 30, sli_every) for i in range(projects)]
    fold_s = time.perf_counter() - started
    gc.collect()
    after = _rss_mb()
    started = time.perf_counter()
    samples = sum(len(s.snapshot(T)) for s in states[:50])
    snapshot_ms = (time.perf_counter() - started) / 50 * 1000
    rows = sum(s.events_applied for s in states)
    print(
        json.dumps(
            {
                "projects": projects,
                "days": 30,
                "sli_sample_every_min": sli_every,
                "rows": rows,
                "state_rss_mb": round(after - before, 1),
                "bytes_per_row": round((after - before) * 2**20 / rows, 1),
                "fold_s": round(fold_s, 1),
                "snapshot_ms_per_project": round(snapshot_ms, 2),
                "samples_per_project": samples // 50,
            }
        )
    )
