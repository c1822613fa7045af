"""Proof that the dashboards show real data: every query, variables filled with real values.

Two real exporter shards serve example snapshots of a unique-prefix state topic; the real
Prometheus scrapes them, evaluates the shipped recording and alerting rules and
remote-writes to the real VictoriaMetrics. Every panel, annotation and variable query of
every committed dashboard then runs there as Grafana would run it. A query may come back
empty only for a reason checked against the live system (see `empty_reason`).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Producer
from support.dashboards import BURN_ALERT, Live, get_json, prove

from devmetrics.kafka_admin import client_config
from devmetrics.settings import KafkaSettings
from exporters.dashboards.catalog import load_catalog
from exporters.dashboards.kit import VICTORIAMETRICS_UID
from exporters.runner import ShardOptions, ShardRunner
from exporters.testing import example_record
from schemas.codec import Codec
from schemas.topics import CONFLUENT_PARTITIONER, Topics

PROJECTS = [f"dash-{i:02d}" for i in range(12)]
TEAMS = ("payments", "search", "platform")
CHOSEN = "dash-00"


def _record(project: str, as_of_ms: int, i: int, extra_deployments: int = 0) -> dict[str, Any]:
    services = {1: ("api", "web"), 2: ("api", "web", "worker")}.get(i, ("api",))
    record = example_record(project, as_of_ms=as_of_ms, services=services, team=TEAMS[i % 3])
    for sample in record["metrics"]:
        labels = sample["labels"]
        if sample["name"] == "devmetrics_dora_deployments" and labels["window"] == "30d":
            sample["value"] += extra_deployments
        # The chosen project's availability burns its budget 50 times too fast everywhere:
        # the page-fast burn alert fires (5 % errors against a 99.9 % objective).
        if (
            project == CHOSEN
            and labels.get("slo") == "availability"
            and sample["name"] == "devmetrics_slo_requests_good"
        ):
            total = next(
                s["value"]
                for s in record["metrics"]
                if s["name"] == "devmetrics_slo_requests" and s["labels"] == labels
            )
            sample["value"] = float(math.floor(total * 0.95))
    return record


def _publish(kafka: KafkaSettings, records: list[dict[str, Any]]) -> None:
    codec = Codec.default()
    producer = Producer({**client_config(kafka), "partitioner": CONFLUENT_PARTITIONER})
    for record in records:
        producer.produce(
            Topics(kafka.topic_prefix).state,
            key=record["project_id"].encode(),
            value=codec.encode("state", record),
        )
    assert producer.flush(30) == 0


def _wait(
    what: str,
    check: Callable[[], bool],
    timeout_s: float = 120,
    diagnose: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}; {diagnose()}")
        time.sleep(1)


@pytest.mark.integration
def test_every_dashboard_query_returns_data(
    kafka_settings: KafkaSettings, private_monitoring_stack: Any
) -> None:
    # Its own Prometheus: which panels may be empty depends on every alert and target there.
    monitoring_stack = private_monitoring_stack
    start = time.time()
    as_of_ms = int(start * 1000)
    _publish(kafka_settings, [_record(p, as_of_ms, i) for i, p in enumerate(PROJECTS)])
    codec = Codec.default()
    runners = [
        ShardRunner(kafka_settings, ShardOptions(shard=i, shards=2, port=0), codec)
        for i in range(2)
    ]
    for runner in runners:
        runner.start()
    try:
        monitoring_stack.add_targets(
            "exporters", kafka_settings.topic_prefix, [r.address for r in runners]
        )
        live = Live(
            monitoring_stack.prometheus_url,
            monitoring_stack.victoriametrics_url,
            start,
            load_catalog().processor,
        )
        mine = 'count(devmetrics_project_info{project=~"dash-.*", team!=""})'

        def prometheus_sees_all() -> bool:
            result = live.instant("prometheus", mine)
            return bool(result) and float(result[0]["values"][0][1]) >= len(PROJECTS)

        _wait(
            "Prometheus to scrape both shards",
            prometheus_sees_all,
            diagnose=lambda: json.dumps(
                get_json(live.prometheus_url, "/api/v1/targets", state="active")["activeTargets"]
            )[:3000],
        )
        # A deployment in the chosen project: a rise for the annotation, a render for the cost.
        time.sleep(5)
        _publish(kafka_settings, [_record(CHOSEN, as_of_ms + 5000, 0, extra_deployments=1)])
        burning = f'ALERTS{{alertname="{BURN_ALERT}", project="{CHOSEN}", alertstate="firing"}}'
        _wait("the page-fast burn alert", lambda: bool(live.instant("prometheus", burning)))
        _wait(
            "VictoriaMetrics to receive the recorded series",
            lambda: bool(live.instant(VICTORIAMETRICS_UID, "devmetrics:projects:count")),
        )
        # Long-range panels read VictoriaMetrics: every series of the chosen project first.
        everything = f'{{__name__=~"devmetrics.+", project="{CHOSEN}"}}'
        _wait(
            "VictoriaMetrics to hold every series of the chosen project",
            lambda: (
                len(live.instant(VICTORIAMETRICS_UID, everything))
                >= len(live.instant("prometheus", everything))
            ),
        )
        time.sleep(12)  # a full rate window after the update
        live.end = time.time()

        team_of = {p: TEAMS[i % 3] for i, p in enumerate(PROJECTS)}
        preferred = {"team": team_of[CHOSEN], "project": CHOSEN, "service": "api"}
        proof = prove(live, lambda name, options: preferred.get(name, options[0]))
    finally:
        for runner in runners:
            runner.stop()

    print(
        f"\n{proof.dashboards} dashboards, {proof.panels} panels, {proof.queries} queries: "
        f"{proof.with_data} with data, {len(proof.empty)} empty for a checked reason"
    )
    for where, reason in sorted(proof.empty.items()):
        print(f"  empty: {where}: {reason}")
    assert proof.failures == [], "\n".join(proof.failures)
    assert proof.variables_without_values == []
    assert (proof.dashboards, proof.panels, proof.queries) == (6, 133, 198)
    # Empty here, and only here: the 19 queries of the processors' own metrics (no worker
    # runs in this setup) and the pipeline-alerts table (no pipeline alert is active).
    assert Counter(proof.empty.values()) == {
        "no processor worker is a Prometheus target here": 19,
        "no such alert is pending or firing": 1,
    }
    assert [w for w, r in proof.empty.items() if r.startswith("no such alert")] == [
        "health.json: panel 28 'Pipeline alerts' target A"
    ]
    assert all(w.startswith("health.json") for w in proof.empty), sorted(proof.empty)
