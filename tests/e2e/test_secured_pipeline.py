"""The pipeline on a secured stack of its own equals the simulator's truth at every stage.

Thirty projects (the first ten with 14 days, every scenario among them) are published by the
producer role, so human names reach Kafka as pseudonyms; a processor worker and two exporter
shards run as their own roles over SASL_SSL, the shards serve HTTPS with basic auth, and
Prometheus and VictoriaMetrics are read over HTTPS as the operator. Pseudonyms must not change
a single metric, so each stage is compared with the truth of the names in clear.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from support.pipeline import (
    MINUTE_MS,
    Key,
    StateReader,
    Subprocess,
    differences,
    kafka_env,
    project_events,
    scenario_spans,
    series,
    served_series,
    wait_for,
)
from support.secured import Secured, secured_stack

from devmetrics.kafka_admin import client_config
from devmetrics.security import basic_auth_header, role_env
from devmetrics.stack.components import Prometheus
from devmetrics.stack.process import free_port
from producers.publisher import Publisher
from producers.simulator import compute_metrics
from schemas.codec import Codec

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]

PROJECTS, LONG_PROJECTS = 30, 10
PARTITIONS = 4


@dataclass
class SecuredRun:
    """The secured stack after the backfill has been folded and scraped."""

    secured: Secured
    as_of_ms: int
    truth: dict[str, dict[str, Any]]
    people: set[str]
    snapshots: dict[str, dict[str, Any]]

    def query(self, component: str, user: str, promql: str, **params: str) -> list[dict[str, Any]]:
        """An instant query over HTTPS, verified against the stack CA, with basic auth."""
        material = self.secured.material
        qs = urllib.parse.urlencode({"query": promql, **params})
        request = urllib.request.Request(f"{self.secured.url(component)}/api/v1/query?{qs}")
        request.add_header("Authorization", basic_auth_header(user, material.secret("http", user)))
        context = ssl.create_default_context(cafile=str(material.ca_file))
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def served(self, component: str, user: str, pid: str, **params: str) -> dict[Key, float]:
        promql = f'{{project="{pid}", __name__=~"devmetrics_.*"}}'
        return served_series(self.query(component, user, promql, **params))


def _publish(secured: Secured, as_of_ms: int) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Publish the backfill as the producer role: each project's truth and the people in clear."""
    spans = scenario_spans(as_of_ms, LONG_PROJECTS)
    truth: dict[str, dict[str, Any]] = {}
    people: set[str] = set()
    with Publisher(secured.kafka("producer")) as publisher:
        for index in range(1, PROJECTS + 1):
            pid, events, project_spans = project_events(as_of_ms, index, spans, LONG_PROJECTS)
            for family, event in events:
                publisher.publish(family, event)
                if event["actor"]["kind"] == "human":
                    people.add(event["actor"]["name"])
            truth[pid] = {
                "events": len(events),
                "scenarios": [s.to_dict() for s in project_spans],
                "metrics": compute_metrics(events, as_of_ms),
            }
        report = publisher.flush(120)
    sent = sum(t["events"] for t in truth.values())
    assert report.failed == 0 and report.acknowledged == sent, report
    return truth, people


def _role_env(secured: Secured, role: str) -> dict[str, str]:
    return {**role_env(secured.material, role), **kafka_env(secured.kafka(role))}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredRun]:
    workdir = tmp_path_factory.mktemp("secured-pipeline")
    with secured_stack(workdir, partitions=PARTITIONS) as secured:
        as_of_ms = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS
        worker = Subprocess(
            [
                "process",
                "--app-id",
                secured.app_id,
                "--data-dir",
                str(workdir / "worker"),
                "--web-port",
                "0",
                "--metrics-port",
                "0",
                "--as-of",
                str(as_of_ms),
                "--snapshot-interval",
                "1",
            ],
            _role_env(secured, "processor"),
            workdir / "worker.log",
        )
        procs = [worker]
        reader = StateReader(secured.kafka("admin"))
        try:
            truth, people = _publish(secured, as_of_ms)
            expected = {p: t["events"] for p, t in truth.items()}
            reader.wait_until_applied(expected, worker, timeout_s=600)
            prometheus = secured.stack.component("prometheus")
            assert isinstance(prometheus, Prometheus)
            targets = prometheus.targets_dir
            for i in range(2):
                sd = targets / f"exporters-{secured.topics.prefix}-{i}.json"
                args = ["export", "--shard", str(i), "--shards", "2", "--port", str(free_port())]
                procs.append(
                    Subprocess(
                        [*args, "--sd-file", str(sd)],
                        _role_env(secured, "exporter"),
                        workdir / f"exporter-{i}.log",
                    )
                )
            result = SecuredRun(secured, as_of_ms, truth, people, dict(reader.latest))
            total = "count(count by (project) (devmetrics_state_as_of_timestamp_seconds))"
            wait_for(
                lambda: (
                    (r := result.query("prometheus", "operator", total))
                    and float(r[0]["value"][1]) >= PROJECTS
                ),
                120,
                what=f"the secured Prometheus to scrape {PROJECTS} projects from both shards",
            )
            yield result
        finally:
            reader.close()
            for proc in procs:
                proc.stop()


def _actor_names(run: SecuredRun) -> tuple[int, set[str]]:
    """How many events the event topics hold (read as the admin), and their human names."""
    kafka = run.secured.kafka("admin")
    partitions = [
        TopicPartition(topic, p, OFFSET_BEGINNING)
        for topic in run.secured.topics.all_events
        for p in range(kafka.partitions)
    ]
    consumer = Consumer(
        {**client_config(kafka), "group.id": f"raw-{uuid.uuid4()}", "enable.partition.eof": True}
    )
    codec, count, names, ended = Codec.default(), 0, set(), 0
    deadline = time.monotonic() + 60
    try:
        consumer.assign(partitions)
        while ended < len(partitions) and time.monotonic() < deadline:
            for message in consumer.consume(5000, timeout=0.5):
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    ended += 1
                    continue
                value = message.value()
                assert value is not None, "an event without a value"
                count += 1
                actor = codec.decode(value).record["actor"]
                if actor["kind"] == "human":
                    names.add(actor["name"])
    finally:
        consumer.close()
    assert ended == len(partitions), f"{ended} of {len(partitions)} partitions read to the end"
    return count, names


def test_people_reach_kafka_only_as_pseudonyms(run: SecuredRun) -> None:
    count, names = _actor_names(run)
    assert count == sum(t["events"] for t in run.truth.values())
    assert run.people and len(names) == len(run.people)
    assert all(re.fullmatch(r"person-[0-9a-f]{32}", name) for name in names), sorted(names)[:3]


def test_state_snapshots_equal_the_truth_for_every_project(run: SecuredRun) -> None:
    assert set(run.snapshots) == set(run.truth)
    assert {s["name"] for t in run.truth.values() for s in t["scenarios"]} >= {"error_spike"}
    compared = 0
    problems: dict[str, list[str]] = {}
    for pid, truth in run.truth.items():
        snapshot = run.snapshots[pid]
        assert snapshot["as_of"] == run.as_of_ms
        assert snapshot["events_applied"] == truth["events"]
        diff = differences(series(truth["metrics"]), series(snapshot["metrics"]))
        if diff:
            problems[pid] = diff[:5]
        compared += len(truth["metrics"])
    assert not problems, f"{len(problems)} projects differ: {dict(list(problems.items())[:5])}"
    assert compared > 100 * PROJECTS


def test_secured_prometheus_holds_every_project_and_the_truths_values(run: SecuredRun) -> None:
    deployments = run.query("prometheus", "operator", "devmetrics_dora_deployments")
    assert {r["metric"]["project"] for r in deployments} == set(run.truth)
    for pid in sorted(random.Random(7).sample(sorted(run.truth), 3)):
        truth = series(run.truth[pid]["metrics"])
        served = run.served("prometheus", "operator", pid)
        assert len(served) >= 40, f"{pid}: only {len(served)} series in Prometheus"
        assert all(k in truth for k in served), [k for k in served if k not in truth][:5]
        diff = differences({k: truth[k] for k in served}, served)
        assert not diff, f"{pid}: {diff[:5]}"


def test_secured_victoriametrics_holds_the_same_series(run: SecuredRun) -> None:
    pid = sorted(run.truth)[0]
    served = run.served("prometheus", "operator", pid)

    def complete() -> dict[Key, float] | None:
        stored = run.served("victoriametrics", "victoriametrics", pid, latency_offset="1s")
        return stored if len(stored) == len(served) else None

    stored = wait_for(complete, 120, what=f"VictoriaMetrics to hold the series of {pid}")
    assert not differences(served, stored), differences(served, stored)[:5]
    truth = series(run.truth[pid]["metrics"])
    assert not differences({k: truth[k] for k in stored}, stored)
