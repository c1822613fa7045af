"""The whole pipeline on the real stack: backfill with truth, worker, shards, readers.

The simulator generates a backfill ending at a fixed as-of time T (a whole minute) together
with its truth; the events go through the real broker to a real processor worker
(`devmetrics process --as-of T`), whose snapshots go through the state topic to two real
exporter shards, scraped by the real Prometheus, which remote-writes to VictoriaMetrics and
alerts through Alertmanager to a local webhook. Tests then compare each stage with the truth.

Sizes (environment, for quicker local runs): DEVMETRICS_E2E_PROJECTS projects in all (1000),
of which the first DEVMETRICS_E2E_LONG_PROJECTS (200) carry 14 days of history with every
scenario present and the rest 1 day.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from core import catalogue
from core.kafka import client_config
from core.settings import KafkaSettings
from core.slo_definitions import parse_slo_yaml
from devmetrics.stack.process import free_port
from producers.publisher import Publisher
from producers.simulator import (
    SimConfig,
    compute_metrics,
    default_requests,
    generate_project,
    project_spec,
    resolve_requests,
)
from schemas.codec import Codec
from schemas.topics import Topics

log = logging.getLogger(__name__)

PROJECTS = int(os.environ.get("DEVMETRICS_E2E_PROJECTS", "1000"))
LONG_PROJECTS = min(PROJECTS, int(os.environ.get("DEVMETRICS_E2E_LONG_PROJECTS", "200")))
LONG_DAYS, SHORT_DAYS = 14, 1
SEED = 11
# Sent again and sent as garbage, in the first project: de-duplicated and dead-lettered.
DUPLICATES, POISON = 5, 3
SLI_INTERVAL_S = 300
# A wait for snapshots gives up once none has moved for this long (see wait_until_applied).
STALL_S = 300
# The simulator's projects have one or two agents: with N = 1 the `other` agent label is
# exercised end to end (the product's default is 3).
E2E_AGENT_TOP_N = 1
MINUTE_MS, DAY_MS = 60_000, 86_400_000
# The SLO definitions of the e2e pipeline (docs/slo-definitions.md): besides the built-in
# SLOs, some services get their own objective over a calendar month with a freeze level, the
# first hundred projects their own latency bound over an ISO week in another zone, and the
# web services of proj-01xx a third SLO over a rolling week, and proj-02xx (one day of
# history, deployments in it) a freeze level that most of their error budgets are under.
E2E_SLO_YAML = """\
defaults: true
slos:
  - name: availability
    services: [api, gateway]
    indicator: {kind: availability}
    objective: 0.995
    period: {calendar: month, timezone: Europe/Berlin}
    freeze_below: 0.25
  - name: latency
    projects: ["proj-00??"]
    indicator: {kind: latency, threshold_s: 0.5}
    objective: 0.95
    period: {calendar: week, timezone: America/New_York}
  - name: fast
    projects: ["proj-01*"]
    services: [web]
    indicator: {kind: latency, threshold_s: 0.1}
    objective: 0.9
    period: {rolling_days: 7}
    freeze_below: 0.5
  - name: availability
    projects: ["proj-02*"]
    indicator: {kind: availability}
    objective: 0.999
    freeze_below: 0.99
"""
E2E_SLOS = parse_slo_yaml(E2E_SLO_YAML, "e2e-slo.yaml")


def write_slo_file(workdir: Path, text: str = E2E_SLO_YAML) -> Path:
    path = workdir / "slo.yaml"
    path.write_text(text)
    return path


Key = tuple[str, tuple[tuple[str, str], ...]]

# Labels Prometheus adds to what a shard serves; not part of a snapshot's samples. The
# shipped scrape relabeling removes job, instance and shard from project series, so none of
# them may appear there (`project_series` checks).
TARGET_LABELS = {"job", "instance", "shard"}
SHARD_ONLY = {
    "devmetrics_project_info",
    "devmetrics_state_as_of_timestamp_seconds",
    "devmetrics_state_computed_timestamp_seconds",
    "devmetrics_state_last_event_timestamp_seconds",
    "devmetrics_state_events_applied_total",
    "devmetrics_project_services_capped",
}


def series(metrics: list[dict[str, Any]]) -> dict[Key, float]:
    """Samples keyed by (name, sorted labels), from a truth entry or a state record."""
    return {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in metrics}


def served_series(result: list[dict[str, Any]]) -> dict[Key, float]:
    """A query result's samples keyed like `series`, without the shard-only series."""
    return {
        key: value
        for pid, key, value in project_series(result)
        if key[0] not in SHARD_ONLY and pid is not None
    }


def project_series(result: list[dict[str, Any]]) -> list[tuple[str | None, Key, float]]:
    """(project, key without the project label, value) of each sample of a query result.

    A sample that still carries a target label fails: a project's series must not depend on
    the shard that serves it.
    """
    out = []
    for r in result:
        labels = dict(r["metric"])
        name = labels.pop("__name__")
        pid = labels.pop("project", None)
        leaked = TARGET_LABELS & set(labels)
        assert pid is None or not leaked, f"{name}{{project={pid}}} carries {sorted(leaked)}"
        out.append((pid, (name, tuple(sorted(labels.items()))), float(r["value"][1])))
    return out


def same_value(expected: float, got: float) -> bool:
    """Counts and quantiles exactly; ratios and float sums to 1e-9 relative (docs/metrics.md)."""
    return expected == got or math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)


def differences(expected: dict[Key, float], got: dict[Key, float]) -> list[str]:
    """What is missing, unexpected or unequal in `got` against `expected`, one line each."""
    out = [f"missing {k}={v}" for k, v in expected.items() if k not in got]
    out += [f"unexpected {k}={v}" for k, v in got.items() if k not in expected]
    out += [
        f"{k}: expected {v}, got {got[k]}"
        for k, v in expected.items()
        if k in got and not same_value(v, got[k])
    ]
    return out


@dataclass
class Backfill:
    """What the simulator generated: T, per-project truth, and scenario spans."""

    as_of_ms: int
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: int = 0

    @property
    def project_ids(self) -> list[str]:
        return sorted(self.truth)

    def with_scenario(self, name: str) -> list[str]:
        return [p for p, t in self.truth.items() if any(s["name"] == name for s in t["scenarios"])]

    def normal_projects(self) -> list[str]:
        return [p for p, t in self.truth.items() if not t["scenarios"]]


def project_events(
    backfill_as_of: int,
    index: int,
    spans: dict[str, list[Any]],
    long_projects: int = LONG_PROJECTS,
) -> tuple[str, list[tuple[str, dict[str, Any]]], list[Any]]:
    """One project's events, exactly as the simulator's backfill makes them."""
    days = LONG_DAYS if index <= long_projects else SHORT_DAYS
    config = SimConfig(
        seed=SEED,
        start_ms=backfill_as_of - days * DAY_MS,
        end_ms=backfill_as_of,
        sli_interval_s=SLI_INTERVAL_S,
    )
    spec = project_spec(SEED, index)
    project_spans = spans.get(spec.project_id, [])
    return spec.project_id, generate_project(spec, config, project_spans), project_spans


def scenario_spans(as_of_ms: int, long_projects: int = LONG_PROJECTS) -> dict[str, list[Any]]:
    """Every problem scenario on a few of the 14-day projects (the simulator's default)."""
    ids = [project_spec(SEED, i).project_id for i in range(1, long_projects + 1)]
    return resolve_requests(default_requests(long_projects, SEED), ids, as_of_ms)


def run_backfill(kafka: KafkaSettings, as_of_ms: int) -> Backfill:
    """Generate, publish and compute the truth of every project, one project at a time."""
    spans = scenario_spans(as_of_ms)
    backfill = Backfill(as_of_ms)
    started = time.monotonic()
    topics = Topics(kafka.topic_prefix)
    sent = 0
    with Publisher(kafka) as publisher:
        for index in range(1, PROJECTS + 1):
            pid, events, project_spans = project_events(as_of_ms, index, spans)
            for family, event in events:
                publisher.publish(family, event)
            if index == 1:
                # What real input also holds: producer retries and bytes that are no event.
                for family, event in events[:DUPLICATES]:
                    publisher.publish(family, event)
                for n in range(POISON):
                    publisher.publish_raw(
                        topics.events("deployment"), pid.encode(), f"not an event {n}".encode()
                    )
                sent += DUPLICATES + POISON
            backfill.truth[pid] = {
                "events": len(events),
                "scenarios": [s.to_dict() for s in project_spans],
                "metrics": compute_metrics(
                    events, as_of_ms, slos=E2E_SLOS, agent_top_n=E2E_AGENT_TOP_N
                ),
            }
            backfill.events += len(events)
        report = publisher.flush(120)
    assert report.failed == 0 and report.acknowledged == backfill.events + sent, report
    log.info(
        "backfill: %d events of %d projects in %.0f s",
        backfill.events,
        PROJECTS,
        time.monotonic() - started,
    )
    return backfill


class Subprocess:
    """A `devmetrics` subcommand in a child process, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_file: Path) -> None:
        self.log_file = log_file
        self.metrics_port: int | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devmetrics", *args],
            env={**os.environ, **env},
            stdout=log_file.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    return {
        "DEVMETRICS_KAFKA__BOOTSTRAP": kafka.bootstrap,
        "DEVMETRICS_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "DEVMETRICS_KAFKA__PARTITIONS": str(kafka.partitions),
        "DEVMETRICS_KAFKA__REPLICATION_FACTOR": str(kafka.replication_factor),
    }


def start_worker(
    kafka: KafkaSettings,
    as_of_ms: int,
    workdir: Path,
    name: str,
    app_id: str | None = None,
    agent_top_n: int | None = None,
    slo_file: Path | None = None,
) -> Subprocess:
    """`devmetrics process --as-of T` (app `<prefix>-<name>` unless given: workers of one app
    share its partitions); its /metrics port is `.metrics_port`. `agent_top_n` and `slo_file`
    set the processor settings of those names (through their environment variables)."""
    env = kafka_env(kafka)
    if agent_top_n is not None:
        env["DEVMETRICS_PROCESSOR__AGENT_TOP_N"] = str(agent_top_n)
    if slo_file is not None:
        env["DEVMETRICS_PROCESSOR__SLO_FILE"] = str(slo_file)
    metrics_port = free_port()
    worker = Subprocess(
        [
            "process",
            "--app-id",
            app_id or f"{kafka.topic_prefix}-{name}",
            "--data-dir",
            str(workdir / name),
            "--web-port",
            "0",
            "--metrics-port",
            str(metrics_port),
            "--as-of",
            str(as_of_ms),
            "--snapshot-interval",
            "2",
        ],
        env,
        workdir / f"{name}.log",
    )
    worker.metrics_port = metrics_port
    return worker


class StateReader:
    """Follows the compacted state topic and keeps the latest snapshot of every project."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.codec = Codec.default()
        self.latest: dict[str, dict[str, Any]] = {}
        self.consumer = Consumer(
            {**client_config(kafka), "group.id": f"e2e-{uuid.uuid4()}", "enable.auto.commit": False}
        )
        topic = Topics(kafka.topic_prefix).state
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(kafka.partitions)])

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(5000, timeout=0.5):
                value = msg.value() if msg.error() is None else None
                if value is not None:
                    record = self.codec.decode(value).record
                    self.latest[record["project_id"]] = record

    def wait_until_applied(
        self, expected: dict[str, int], worker: Subprocess, timeout_s: float
    ) -> None:
        """Until every project's snapshot has folded all of its events.

        Gives up at `timeout_s`, or sooner when no snapshot has moved for STALL_S: a worker
        that has published everything it will publish does not need the whole bound to say so.
        """
        started = time.monotonic()
        moved_at, seen = started, 0
        while True:
            seen_before = seen
            self.poll(2)
            seen = sum(r.get("events_applied", 0) for r in self.latest.values())
            now = time.monotonic()
            if seen != seen_before:
                moved_at = now
            behind = [
                p for p, n in expected.items() if self.latest.get(p, {}).get("events_applied") != n
            ]
            if not behind:
                return
            assert worker.alive(), f"the worker died:\n{worker.tail()}"
            if now > started + timeout_s or now - moved_at > STALL_S:
                raise AssertionError(
                    f"{len(behind)} projects not caught up after {now - started:.0f} s (no "
                    f"snapshot moved for {now - moved_at:.0f} s), e.g. {behind[0]}: "
                    f"{self.latest.get(behind[0], {}).get('events_applied')} of "
                    f"{expected[behind[0]]}; worker log:\n{worker.tail()}"
                )

    def close(self) -> None:
        self.consumer.close()


def prometheus_query(base: str, promql: str, **params: str) -> list[dict[str, Any]]:
    qs = urllib.parse.urlencode({"query": promql, **params})
    with urllib.request.urlopen(f"{base}/api/v1/query?{qs}", timeout=30) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


@dataclass
class PipelineRun:
    backfill: Backfill
    kafka: KafkaSettings
    snapshots: dict[str, dict[str, Any]]
    prometheus_urls: list[str]
    """Every Prometheus server; the first also scrapes the processors."""
    victoriametrics_url: str
    alertmanager_url: str
    exporter_urls: list[str]

    @property
    def truth(self) -> dict[str, dict[str, Any]]:
        return self.backfill.truth

    @property
    def project_ids(self) -> list[str]:
        return self.backfill.project_ids

    @property
    def as_of_ms(self) -> int:
        return self.backfill.as_of_ms

    @property
    def prometheus_url(self) -> str:
        return self.prometheus_urls[0]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query on the first Prometheus server (processors' metrics live there)."""
        return prometheus_query(self.prometheus_url, promql)

    def query_all(self, promql: str) -> list[dict[str, Any]]:
        """The results of an instant query on every Prometheus server, concatenated."""
        return [r for url in self.prometheus_urls for r in prometheus_query(url, promql)]

    def query_fleet(self, promql: str) -> list[dict[str, Any]]:
        """An instant query on VictoriaMetrics, which holds every server's series."""
        return prometheus_query(self.victoriametrics_url, promql, latency_offset="1s")


def wait_for(fn: Any, timeout_s: float, interval_s: float = 2.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(interval_s)


def expected_series(
    truth: dict[str, Any], snapshot: dict[str, Any], as_of_ms: int
) -> dict[Key, float]:
    """Every series a project must have in Prometheus: the truth's, and the project's own
    series with the values of its final snapshot (checked against the truth elsewhere)."""
    team = (("team", snapshot["team"]),) if snapshot["team"] else ()
    expected = series(truth["metrics"])
    expected[("devmetrics_project_info", team)] = 1.0
    expected[("devmetrics_state_as_of_timestamp_seconds", ())] = as_of_ms / 1000
    expected[("devmetrics_state_computed_timestamp_seconds", ())] = snapshot["computed_at"] / 1000
    expected[("devmetrics_state_last_event_timestamp_seconds", ())] = (
        snapshot["last_event_at"] / 1000
    )
    expected[("devmetrics_state_events_applied_total", ())] = float(truth["events"])
    return expected


def families(truth: dict[str, dict[str, Any]]) -> list[str]:
    """Every family a project can have: the catalogue's, the truth's and the shard's own
    (SHARD_ONLY); a family the truth lacks is read too, so that any series of it is found
    as unexpected."""
    truth_names = {m["name"] for t in truth.values() for m in t["metrics"]}
    return sorted({f.name for f in catalogue.FAMILIES} | truth_names | SHARD_ONLY)


def holdings(base: str, names: list[str], **params: str) -> dict[str, dict[Key, float]]:
    """Every project's series in one store, family by family (bounded answers)."""
    held: dict[str, dict[Key, float]] = defaultdict(dict)
    for name in names:
        result = prometheus_query(base, f'{{__name__="{name}", project!=""}}', **params)
        for pid, key, value in project_series(result):
            assert pid is not None
            assert key not in held[pid], f"{pid}: {key} twice in {base}"
            held[pid][key] = value
    return held


def mismatches(
    truth: dict[str, dict[str, Any]],
    snapshots: dict[str, dict[str, Any]],
    as_of_ms: int,
    held: dict[str, dict[Key, float]],
) -> dict[str, list[str]]:
    """Per project, what a store holds against the truth both ways (first five lines)."""
    problems = {}
    for pid in sorted(set(held) | set(truth)):
        if pid not in truth:
            problems[pid] = ["a project the simulator never made"]
            continue
        diff = differences(expected_series(truth[pid], snapshots[pid], as_of_ms), held.get(pid, {}))
        if diff:
            problems[pid] = diff[:5]
    return problems
