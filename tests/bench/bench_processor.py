"""Processor benchmarks (run with `pytest -m bench tests/bench/bench_processor.py -s`).

1. Throughput: events/s through one worker, from the event topics to published state, next to
   the raw confluent-kafka consume rate of the same topics in the same run. A realistic
   backfill: `BENCH_PROCESSOR_PROJECTS=50 BENCH_PROCESSOR_DAYS=14`.
2. Memory: the RSS of a worker process holding the simulator's 1000 projects x 30 days (SLI
   samples every 300 s), measured: every event is generated and encoded here and folded
   through the worker's own code (`FoldWorker.process`) in a process of its own
   (tests/bench/fold_replay.py), without Kafka. `BENCH_MEMORY_PROJECTS=10000
   BENCH_MEMORY_DAYS=3` is the wide fleet.
3. Live writes: bytes written to the table per event for live traffic, hour blocks written
   whole against deltas, side by side.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from fold_replay import HEADER, SizedStore

from core.kafka import client_config
from core.processor_settings import ProcessorSettings
from core.settings import KafkaSettings
from processors.admission import AsOf, partition_for
from processors.aggregators.metrics import Figures
from processors.aggregators.rows import SliRow, team_mark, to_row
from processors.aggregators.samples import DAY_MS
from processors.worker import FoldWorker, Incoming
from producers.publisher import Publisher
from producers.simulator.generator import SimConfig, generate_project, project_spec
from schemas.codec import Codec
from schemas.topics import FAMILIES, Topics

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


def _bench_events() -> list[tuple[str, dict[str, object]]]:
    """The backfill to time: the simulator's projects in event-time order, project by project
    (`BENCH_PROCESSOR_DAYS` > 0, as `devmetrics simulate` produces them), or shuffled
    synthetic events spread over 30 days (`BENCH_PROCESSOR_EVENTS`)."""
    days = int(os.environ.get("BENCH_PROCESSOR_DAYS", "0"))
    if not days:
        return harness._backfill(projects=PROJECTS, per_project=EVENTS // PROJECTS, seed=11)
    config = SimConfig(seed=1, start_ms=T - days * DAY_MS, end_ms=T, sli_interval_s=300)
    return [
        event
        for index in range(1, PROJECTS + 1)
        for event in generate_project(project_spec(config.seed, index), config)
    ]


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


def _raw_aiokafka_rate(kafka: KafkaSettings, total: int) -> float:
    """The same read through aiokafka, the client under faust (no decoding, no folding): the
    most a faust worker can reach on this machine."""
    import asyncio

    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AioTP

    async def run() -> float:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        parts = [
            AioTP(t, p)
            for t in Topics(kafka.topic_prefix).all_events
            for p in range(kafka.partitions)
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen, started = 0, time.perf_counter()
        while seen < total:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in fetched.values())
        elapsed = time.perf_counter() - started
        await consumer.stop()
        return seen / elapsed

    return asyncio.run(run())


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
    events = _bench_events()
    with Publisher(kafka_settings) as publisher:
        for family, record in events:
            publisher.publish(family, record)
        publisher.flush(120)
    raw = _raw_consume_rate(kafka_settings, len(events))
    raw_aiokafka = _raw_aiokafka_rate(kafka_settings, len(events))
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
    state_at = _wait_for_final_states(kafka_settings, events, deadline)
    rate = len(events) / max(done_at - first_at, 1e-3)
    to_state = len(events) / max(state_at - first_at, 1e-3)
    print(
        json.dumps(
            {
                "events": len(events),
                "projects": PROJECTS,
                "simulated_days": int(os.environ.get("BENCH_PROCESSOR_DAYS", "0")),
                "worker_events_per_s": round(rate),
                "worker_events_per_s_to_final_state": round(to_state),
                "raw_consume_events_per_s": round(raw),
                "ratio": round(rate / raw, 3),
                "raw_aiokafka_events_per_s": round(raw_aiokafka),
                "raw_aiokafka_ratio": round(raw_aiokafka / raw, 3),
            }
        )
    )


def _wait_for_final_states(
    kafka: KafkaSettings, events: list[tuple[str, dict[str, object]]], deadline: float
) -> float:
    """When every project's latest snapshot first carries all of its events (monotonic time)."""
    expected = Counter(str(record["project_id"]) for _, record in events)
    codec = Codec.default()
    latest: dict[str, int] = {}
    while time.monotonic() < deadline:
        for msg in harness._consume_all(kafka, Topics(kafka.topic_prefix).state):
            latest[msg.key().decode()] = codec.decode(msg.value()).record["events_applied"]
        if all(latest.get(p) == n for p, n in expected.items()):
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"snapshots incomplete: {len(latest)} of {len(expected)} projects seen")


def _project_messages(
    index: int, config: SimConfig, codec: Codec, topics: Topics, partitions: int = 12
) -> list[tuple[int, Incoming]]:
    """The simulator's events of project `index`, encoded as consumed messages, each with its
    event time."""
    spec = project_spec(config.seed, index)
    return [
        (
            int(record["occurred_at"]),
            Incoming(
                topic=topics.events(family),
                partition=partition_for(spec.project_id, partitions),
                offset=0,
                key=spec.project_id.encode(),
                value=codec.encode(family, record),
                timestamp_ms=T,
            ),
        )
        for family, record in generate_project(spec, config)
    ]


@pytest.mark.timeout(3600)  # about 15 minutes of CPU for 11 M events on the 2-core machine
def test_memory_of_1000_simulated_projects_with_30_days() -> None:
    """The simulator's projects (30 days, SLI samples every 300 s) folded by the worker's code
    in a process of its own (tests/bench/fold_replay.py), fed the encoded messages through a
    pipe while this process generates them: that process's RSS is the worker's alone."""
    projects = int(os.environ.get("BENCH_MEMORY_PROJECTS", "1000"))
    days = int(os.environ.get("BENCH_MEMORY_DAYS", "30"))
    partitions = 12
    codec = Codec.default()
    topics = Topics("bench")
    index_of = {topics.events(family): i for i, family in enumerate(FAMILIES)}
    config = SimConfig(seed=1, start_ms=T - days * DAY_MS, end_ms=T, sli_interval_s=300)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fold_replay.py")), str(T), "12", "bench"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.stdin is not None and child.stdout is not None
    events = 0
    started = time.process_time()
    for index in range(1, projects + 1):
        for _, message in _project_messages(index, config, codec, topics, partitions):
            assert message.key is not None and message.value is not None
            child.stdin.write(
                HEADER.pack(
                    index_of[message.topic],
                    message.partition,
                    len(message.key),
                    len(message.value),
                )
            )
            child.stdin.write(message.key)
            child.stdin.write(message.value)
            events += 1
        if index % 100 == 0:
            print(f"{index} of {projects} projects generated", flush=True)
    generate_s = time.process_time() - started
    child.stdin.close()
    figures = json.loads(child.stdout.read())
    assert child.wait() == 0
    assert figures["events"] == figures["rows"] == events  # every event applied exactly once
    assert figures["projects"] == projects
    print(
        json.dumps(
            {
                "projects": projects,
                "days": days,
                "sli_interval_s": 300,
                **figures,
                "bytes_per_event": round(figures["state_rss_mb"] * 2**20 / events, 1),
                "process_kb_per_project": round(figures["process_rss_mb"] * 1024 / projects, 1),
                "generate_encode_cpu_s": round(generate_s, 1),
                "fold_events_per_cpu_s": round(events / figures["fold_cpu_s"]),
            }
        )
    )


@pytest.mark.timeout(1800)
def test_live_bytes_written_per_event() -> None:
    """Live traffic (the simulator's projects, SLI samples every 10 s, two hours) handed to the
    worker a second of event time at a time, as a live fetch brings it: bytes written to the
    table (and so to its changelog) per event, hour blocks written whole at every batch
    (`block_deltas_max=0`) against the deltas (the default), side by side in one run."""
    projects = int(os.environ.get("BENCH_LIVE_PROJECTS", "100"))
    hours = int(os.environ.get("BENCH_LIVE_HOURS", "2"))
    partitions = 12
    codec = Codec.default()
    topics = Topics("bench")
    config = SimConfig(seed=1, start_ms=T - hours * 3_600_000, end_ms=T, sli_interval_s=10)
    events = [
        pair
        for index in range(1, projects + 1)
        for pair in _project_messages(index, config, codec, topics, partitions)
    ]
    events.sort(key=lambda pair: pair[0])
    results = {}
    for name, deltas_max in (("whole_blocks", 0), ("deltas", 64)):
        store = SizedStore()
        worker = FoldWorker(
            ProcessorSettings(block_deltas_max=deltas_max),
            topics,
            partitions,
            codec,
            store,
            AsOf(T),
        )
        batch: list[Incoming] = []
        second = None
        started = time.process_time()
        for at, message in events:
            if second is not None and at // 1000 != second and batch:
                worker.process(batch, T)
                batch = []
            second = at // 1000
            batch.append(message)
        if batch:
            worker.process(batch, T)
        results[name] = {
            "bytes_per_event": round(store.bytes_written / len(events), 1),
            "writes": store.writes,
            "stored_mb": round(sum(store.sizes.values()) / 2**20, 2),
            "fold_cpu_s": round(time.process_time() - started, 1),
        }
    print(
        json.dumps(
            {
                "projects": projects,
                "hours": hours,
                "sli_interval_s": 10,
                "events": len(events),
                **results,
                "ratio_bytes": round(
                    results["deltas"]["bytes_per_event"]
                    / results["whole_blocks"]["bytes_per_event"],
                    3,
                ),
            }
        )
    )
    assert results["deltas"]["bytes_per_event"] < results["whole_blocks"]["bytes_per_event"]


@pytest.mark.timeout(1800)
def test_snapshot_cost_kept_against_fresh() -> None:
    """Snapshot cost per project in live mode: the simulator's projects with 30 days of
    history, then live minutes in which every project reports an SLI sample (the traffic of a
    live fleet) and is snapshotted, as the worker does after each change. Group results kept
    while exact (`Figures(keep=True)`, the worker's) against every group computed afresh, side
    by side over the same states and times; the samples are compared too."""
    projects = int(os.environ.get("BENCH_SNAPSHOT_PROJECTS", "50"))
    minutes = int(os.environ.get("BENCH_SNAPSHOT_MINUTES", "30"))
    config = SimConfig(seed=1, start_ms=T - 30 * DAY_MS, end_ms=T, sli_interval_s=300)
    kept, fresh = Figures(), Figures(keep=False)
    states = []
    for index in range(1, projects + 1):
        state = kept.initialize(f"p{index}")
        for family, record in generate_project(project_spec(config.seed, index), config):
            row = to_row(family, record)
            kept.agg(state, row, team_mark(row, record))
        states.append(state)
    services = [sorted(state.sli) for state in states]
    cost = {"kept": 0.0, "fresh": 0.0}
    for minute in range(1, minutes + 1):
        as_of = T + minute * 60_000
        for state, names in zip(states, services, strict=True):
            for service in names:
                sample = SliRow(as_of - 1, uuid.uuid4().int >> 64, service, 10, 10, ((0.3, 10),))
                kept.agg(state, sample)
            state.prune(as_of)
            results = {}
            for name, figures in (("kept", kept), ("fresh", fresh)):
                started = time.perf_counter()
                results[name] = figures.result(state, as_of)
                cost[name] += time.perf_counter() - started
            assert results["kept"] == results["fresh"]
    snapshots = projects * minutes
    print(
        json.dumps(
            {
                "projects": projects,
                "history_days": 30,
                "live_minutes": minutes,
                "snapshots": snapshots,
                "kept_ms_per_snapshot": round(cost["kept"] / snapshots * 1000, 3),
                "fresh_ms_per_snapshot": round(cost["fresh"] / snapshots * 1000, 3),
                "ratio": round(cost["kept"] / cost["fresh"], 3),
                "groups_served_kept": sum(state.kept_hits for state in states),
            }
        )
    )
