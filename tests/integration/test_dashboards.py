"""Proof that the dashboards show real data: every query, variables filled with real values.

Two real exporter shards serve example snapshots of a unique-prefix state topic; the real
Prometheus scrapes them (dropping the target labels of project series), evaluates the
shipped rules and remote-writes to the real VictoriaMetrics. Every panel, annotation and
variable query of every committed dashboard then runs there as Grafana would run it, on the
datasource it names (fleet panels on VictoriaMetrics). A query may come back empty only for
a reason checked against the live system (see `empty_reason`).
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
from support.snapshots import OBJECTIVES, example_record

from core.kafka import client_config
from core.settings import KafkaSettings
from dashboards.catalog import load_catalog
from dashboards.kit import VICTORIAMETRICS_UID
from exporters.runner import ShardOptions, ShardRunner
from exporters.series import ServicePolicy
from schemas.codec import Codec
from schemas.topics import CONFLUENT_PARTITIONER, Topics

PROJECTS = [f"dash-{i:02d}" for i in range(12)]
TEAMS = ("payments", "search", "platform")
CHOSEN = "dash-00"
# Two services per project at most: dash-02 reports three, so it is served above the cap.
MAX_SERVICES = 2
CAPPED = "dash-02"


def _record(project: str, as_of_ms: int, i: int, extra_deployments: int = 0) -> dict[str, Any]:
    services = {1: ("api", "web"), 2: ("api", "web", "worker")}.get(i, ("api",))
    record = example_record(project, as_of_ms=as_of_ms, services=services, team=TEAMS[i % 3])
    metrics = record["metrics"]
    for sample in metrics:
        if sample["name"] == "devmetrics_dora_deployments" and sample["labels"]["window"] == "30d":
            sample["value"] += extra_deployments
    if project == CHOSEN:
        _burn_availability(metrics)
    return record


def _burn_availability(metrics: list[dict[str, Any]]) -> None:
    """The availability SLOs burn their budget 50 times too fast in every window (5 % errors
    against 99.9 %), as a processor would export it: good, SLI and burn rate agree, so the
    page-fast burn alert fires."""
    by_key = {(s["name"], tuple(sorted(s["labels"].items()))): s for s in metrics}
    objective = OBJECTIVES["availability"]
    for sample in metrics:
        labels = sample["labels"]
        if sample["name"] != "devmetrics_slo_requests" or labels.get("slo") != "availability":
            continue
        key = tuple(sorted(labels.items()))
        good = float(math.floor(sample["value"] * 0.95))
        by_key["devmetrics_slo_requests_good", key]["value"] = good
        if sample["value"]:
            sli = good / sample["value"]
            by_key["devmetrics_slo_sli_ratio", key]["value"] = sli
            by_key["devmetrics_slo_burn_rate", key]["value"] = (1 - sli) / (1 - objective)


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


def _value(live: Live, uid: str, expr: str) -> float:
    """The value of a one-series instant query; 0 while it has no answer."""
    result = live.instant(uid, expr)
    return float(result[0]["values"][0][1]) if result else 0.0


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
    policy = ServicePolicy(max_services=MAX_SERVICES)
    runners = [
        ShardRunner(kafka_settings, ShardOptions(shard=i, shards=2, port=0, policy=policy), codec)
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
            load_catalog().receiver,
        )
        projects = 'count(devmetrics_project_info{project=~"dash-.*", team!=""})'
        _wait(
            "Prometheus to scrape both shards",
            lambda: _value(live, "prometheus", projects) >= len(PROJECTS),
            diagnose=lambda: json.dumps(
                get_json(live.prometheus_url, "/api/v1/targets", state="active")["activeTargets"]
            )[:3000],
        )
        # A deployment in the chosen project: a rise for the annotation, a render for the cost.
        time.sleep(5)
        _publish(kafka_settings, [_record(CHOSEN, as_of_ms + 5000, 0, extra_deployments=1)])
        burning = f'ALERTS{{alertname="{BURN_ALERT}", project="{CHOSEN}", alertstate="firing"}}'
        capped = (
            f'ALERTS{{alertname="DevmetricsProjectServicesOverCap", project="{CAPPED}", '
            'alertstate="firing"}'
        )
        for alert in (burning, capped):

            def in_prometheus(alert: str = alert) -> bool:
                return bool(live.instant("prometheus", alert))

            _wait(f"{alert} in Prometheus", in_prometheus)
        # Fleet panels read VictoriaMetrics: every project there, from the exported series,
        # and the alerts Prometheus remote-writes.
        _wait(
            "VictoriaMetrics to hold every project",
            lambda: _value(live, VICTORIAMETRICS_UID, projects) >= len(PROJECTS),
        )
        for alert in (burning, capped):

            def in_victoriametrics(alert: str = alert) -> bool:
                return bool(live.instant(VICTORIAMETRICS_UID, alert))

            _wait(f"{alert} in VictoriaMetrics", in_victoriametrics)
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
    assert (proof.dashboards, proof.panels, proof.queries) == (6, 179, 275)
    # Empty here, and only here: the 19 queries of the processors' own metrics and the 8 of
    # the webhook receiver's (neither runs in this setup). The pipeline alerts have the
    # service-cap alert of dash-02.
    assert Counter(proof.empty.values()) == {
        "no processor worker is a Prometheus target here": 19,
        "no webhook receiver is a Prometheus target here": 8,
    }
    assert all(w.startswith("health.json") for w in proof.empty), sorted(proof.empty)
    # Every query of a fleet or history panel (and of the top dashboard's team variable)
    # answered from VictoriaMetrics.
    assert proof.with_data_from_victoriametrics == 107
