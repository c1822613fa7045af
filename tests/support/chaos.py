"""The chaos suite's load and checks (tests/chaos/): backfills large enough that a fault
lands while production and processing are under way, and the exact comparison after it.

Each case takes a fresh topic prefix on the cluster, publishes the simulator's events of
DEVMETRICS_CHAOS_PROJECTS projects (250: about 100,000 events; the long variant,
DEVMETRICS_CHAOS_LONG=1, run on demand, defaults to 2000: about 800,000) from a background
thread, and checks at the end that every project's state equals the simulator's truth exactly
and that nothing was dead-lettered.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from core.kafka import client_config, ensure_topics
from core.settings import KafkaSettings
from devmetrics.stack import Stack
from devmetrics.stack.components import Kafka
from producers.publisher import Publisher
from producers.simulator import ScenarioRequest, compute_metrics, project_spec, resolve_requests
from schemas.topics import Topics
from support.pipeline import (
    SEED,
    StateReader,
    Subprocess,
    differences,
    project_events,
    series,
    start_worker,
)

LONG = os.environ.get("DEVMETRICS_CHAOS_LONG") == "1"
PROJECTS = int(os.environ.get("DEVMETRICS_CHAOS_PROJECTS", "2000" if LONG else "250"))
REPORT: list[str] = []
"""One line per case: the events in flight at the fault, the time to the exact state; shown
at the end of the test run (tests/chaos/conftest.py)."""
BROKERS = 3
PARTITIONS = 6
MINUTE_MS = 60_000


@dataclass
class Load:
    """One case's events on a fresh topic prefix: published from a background thread."""

    kafka: KafkaSettings
    as_of_ms: int
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    reports: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def expected(self) -> dict[str, int]:
        return {pid: t["events"] for pid, t in self.truth.items()}

    @property
    def total(self) -> int:
        return sum(self.expected.values())

    def start(self, projects: list[str] | None = None) -> None:
        """Publish `projects` (default: every one not published yet) in a background thread."""
        chosen = [p for p in (projects or list(self.events)) if p not in self.published]
        self.published += chosen
        thread = threading.Thread(target=self._publish, args=(chosen,), name="chaos-producer")
        self._threads.append(thread)
        thread.start()

    def _publish(self, projects: list[str]) -> None:
        try:
            with Publisher(self.kafka) as publisher:
                for pid in projects:
                    for family, event in self.events[pid]:
                        publisher.publish(family, event)
                self.reports.append(publisher.flush(300))
        except BaseException as exc:  # reported by join()
            self.errors.append(exc)

    def join(self, timeout_s: float = 600) -> None:
        """Until every event published so far is acknowledged: produced = acknowledged."""
        for thread in self._threads:
            thread.join(timeout_s)
            assert not thread.is_alive(), "the producer did not finish"
        assert not self.errors, f"the producer failed: {self.errors!r}"
        sent = sum(self.truth[p]["events"] for p in self.published)
        assert sum(r.failed for r in self.reports) == 0, self.reports
        assert sum(r.acknowledged for r in self.reports) == sent, (self.reports, sent)


def make_load(cluster: Stack, error_spikes: int = 0) -> Load:
    """The simulator's events and truth of PROJECTS one-day projects, on fresh topics; the
    first `error_spikes` of them carry 14 days with an error spike at the end (pages)."""
    kafka = cluster.kafka_settings.model_copy(
        update={"topic_prefix": f"c{uuid.uuid4().hex[:8]}", "partitions": PARTITIONS}
    )
    ensure_topics(kafka)
    as_of_ms = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS
    spiked = [project_spec(SEED, i).project_id for i in range(1, error_spikes + 1)]
    requests = [ScenarioRequest("error_spike", tuple(spiked))] if spiked else []
    spans = resolve_requests(requests, spiked, as_of_ms)
    out = Load(kafka, as_of_ms)
    for index in range(1, PROJECTS + 1):
        pid, events, _ = project_events(as_of_ms, index, spans, long_projects=error_spikes)
        out.events[pid] = events
        out.truth[pid] = {"events": len(events), "metrics": compute_metrics(events, as_of_ms)}
    return out


@dataclass
class Fault:
    """What was under way when a fault was injected, and how long recovery took."""

    name: str
    applied: int
    total: int
    injected_at: float = field(default_factory=time.monotonic)

    def report(self, recovered_at: float) -> str:
        return (
            f"chaos {self.name}: fault with {self.applied} of {self.total} events folded "
            f"({self.total - self.applied} in flight); recovered, state equal to the truth, "
            f"{recovered_at - self.injected_at:.1f} s after the fault"
        )


def applied(reader: StateReader) -> int:
    return sum(int(s.get("events_applied", 0)) for s in reader.latest.values())


def wait_midway(reader: StateReader, load: Load, name: str, fraction: float = 0.2) -> Fault:
    """Until the workers have folded `fraction` of the load, and not all of it: the fault
    lands mid-way, which the returned Fault records (asserted, not assumed)."""
    deadline = time.monotonic() + 600
    while applied(reader) < fraction * load.total:
        assert time.monotonic() < deadline, f"{applied(reader)} of {load.total} events folded"
        reader.poll(0.5)
    fault = Fault(name, applied(reader), load.total)
    assert 0 < fault.applied < fault.total, f"the fault must land mid-way: {fault}"
    return fault


def assert_state_equals_truth(reader: StateReader, load: Load) -> None:
    """Every project's latest snapshot equals its truth: nothing lost, nothing counted twice."""
    assert set(reader.latest) == set(load.truth)
    problems = {
        pid: diff[:3]
        for pid, truth in load.truth.items()
        if (diff := differences(series(truth["metrics"]), series(reader.latest[pid]["metrics"])))
    }
    assert not problems, f"{len(problems)} projects differ: {dict(list(problems.items())[:3])}"


def dead_letters(kafka: KafkaSettings) -> int:
    """How many dead letters the case's topics hold (the input deserves none)."""
    consumer = Consumer(
        {**client_config(kafka), "group.id": f"dlq-{uuid.uuid4()}", "enable.partition.eof": True}
    )
    topic = Topics(kafka.topic_prefix).deadletter
    consumer.assign([TopicPartition(topic, p, 0) for p in range(kafka.partitions)])
    count, ended, deadline = 0, 0, time.monotonic() + 30
    try:
        while ended < kafka.partitions and time.monotonic() < deadline:
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None:
                    count += 1
                else:
                    ended += 1
    finally:
        consumer.close()
    return count


def worker(load: Load, workdir: Path, name: str, app: str = "worker") -> Subprocess:
    """A processor worker of the case's app (workers of one app share its partitions)."""
    app_id = f"{load.kafka.topic_prefix}-{app}"
    return start_worker(load.kafka, load.as_of_ms, workdir, name, app_id=app_id)


def busiest_leader(cluster: Stack, load: Load) -> Kafka:
    """The node that leads the most partitions of the case's event topics."""
    admin = AdminClient(client_config(load.kafka))
    metadata = admin.list_topics(timeout=10)
    leaders: dict[int, int] = {}
    for name in Topics(load.kafka.topic_prefix).all_events:
        for partition in metadata.topics[name].partitions.values():
            leaders[partition.leader] = leaders.get(partition.leader, 0) + 1
    node_id = max(leaders, key=lambda n: leaders[n])
    node = next(c for c in cluster.components if isinstance(c, Kafka) and c.node_id == node_id)
    return node


def signal_node(node: Kafka, sig: signal.Signals) -> None:
    pid = node.process.pid()
    assert pid is not None, f"{node.name} is not running"
    os.killpg(pid, sig)


def record(line: str) -> None:
    """A case's result line, printed now (with -s) and in the run's summary."""
    print(line)
    REPORT.append(line)
