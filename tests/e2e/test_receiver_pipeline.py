"""Webhooks to DORA figures on the real stack: a scripted sequence of signed webhooks for one
project goes through `devmetrics receive`, Kafka, a processor worker and an exporter shard to
Prometheus, which must show exactly the DORA values computed by hand below; a redelivered
webhook changes nothing and a forged one is refused and publishes nothing."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent
from support import REPO_ROOT
from support.pipeline import (
    MINUTE_MS,
    Subprocess,
    kafka_env,
    prometheus_query,
    start_worker,
    wait_for,
)
from support.receiver import (
    CDEVENTS_TOKEN,
    SECRET,
    github_headers,
    pagerduty_signature,
    post,
)

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devmetrics.stack.process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
HOUR_MS = 3_600_000


@dataclass
class Stage:
    url: str
    prometheus_url: str
    project: str
    as_of_ms: int
    worker: Subprocess
    receiver: Subprocess

    def webhook(self, source: str) -> str:
        return f"{self.url}/webhooks/{source}"

    def value(self, promql: str) -> float | None:
        result = prometheus_query(self.prometheus_url, promql)
        return float(result[0]["value"][1]) if result else None

    def worker_metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.worker.metrics_port}/metrics") as r:
            lines = r.read().decode().splitlines()
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name))


@pytest.fixture(scope="module")
def stage(
    kafka_bootstrap: str, monitoring_stack: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stage]:
    workdir = tmp_path_factory.mktemp("receiver-e2e")
    kafka = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"rx{uuid.uuid4().hex[:8]}", partitions=4
    )
    ensure_topics(kafka)
    # T a little ahead of the wall clock: the scripted webhooks lie hours before it, and a
    # CDEvent the receiver gets now still falls in the windows.
    as_of_ms = (int(time.time() * 1000) // MINUTE_MS + 15) * MINUTE_MS
    secrets = {}
    for name, value in (("github", SECRET), ("pagerduty", SECRET), ("cdevents", CDEVENTS_TOKEN)):
        path = workdir / f"{name}.secret"
        path.write_bytes(value)
        secrets[name] = str(path)
    worker = start_worker(kafka, as_of_ms, workdir, "worker")
    targets: Path = monitoring_stack.targets_dir
    port = free_port()
    receiver = Subprocess(
        [
            "receive",
            "--port",
            str(port),
            "--sd-file",
            str(targets / f"receivers-{kafka.topic_prefix}.json"),
        ],
        kafka_env(kafka)
        | {
            "PYTHONPATH": str(REPO_ROOT),
            "DEVMETRICS_RECEIVER__PUBLISH_TIMEOUT_S": "60",
            "DEVMETRICS_RECEIVER__GITHUB_SECRET_FILE": secrets["github"],
            "DEVMETRICS_RECEIVER__PAGERDUTY_SECRET_FILE": secrets["pagerduty"],
            "DEVMETRICS_RECEIVER__CDEVENTS_TOKEN_FILE": secrets["cdevents"],
        },
        workdir / "receiver.log",
    )
    shard = Subprocess(
        [
            "export",
            "--port",
            str(free_port()),
            "--sd-file",
            str(targets / f"exporters-{kafka.topic_prefix}.json"),
        ],
        kafka_env(kafka),
        workdir / "exporter.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), 60, 0.5, f"the receiver to answer:\n{receiver.tail()}")
        yield Stage(
            url,
            monitoring_stack.prometheus_url,
            f"acme/shop-{uuid.uuid4().hex[:6]}",
            as_of_ms,
            worker,
            receiver,
        )
    finally:
        for proc in (receiver, shard, worker):
            proc.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _github(
    stage: Stage, event: str, delivery: str, payload: dict[str, Any], secret: bytes = SECRET
) -> int:
    payload = {"repository": {"full_name": stage.project}, "sender": {"login": "mona"}, **payload}
    body = json.dumps(payload).encode()
    return post(stage.webhook("github"), body, github_headers(event, delivery, body, secret))[0]


def _deployment_status(
    stage: Stage, dep: int, sha: str, at: int, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "state": "success",
            "environment": "production",
            "created_at": iso(at),
            "creator": {"login": "mona"},
        },
        "deployment": {
            "id": dep,
            "sha": sha,
            "environment": "production",
            "created_at": iso(at - 600_000),
            "payload": extra,
        },
    }


def _pagerduty(stage: Stage, event_type: str, event_id: str, at: int) -> int:
    body = json.dumps(
        {
            "event": {
                "id": event_id,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": iso(at),
                "agent": {"summary": "On-call engineer", "type": "user_reference"},
                "data": {
                    "id": "PINC1",
                    "type": "incident",
                    "title": "Checkout errors [deployment:1001]",
                    "service": {"id": "PSVC1", "summary": stage.project},
                    "priority": {"summary": "P2"},
                    "urgency": "high",
                },
            }
        }
    ).encode()
    return post(
        stage.webhook("pagerduty"), body, {"X-PagerDuty-Signature": pagerduty_signature(body)}
    )[0]


def _cdevents_deployed(stage: Stage, at: int) -> int:
    cdevent: dict[str, Any] = {
        "context": {
            "version": "0.3.0",
            "id": "cd-deploy-3",
            "source": "/ci/shop",
            "type": "dev.cdevents.service.deployed.0.1.1",
            "timestamp": iso(at),
        },
        "subject": {
            "id": "service/checkout",
            "source": "/ci/shop",
            "type": "service",
            "content": {
                "environment": {"id": "production"},
                "artifactId": "pkg:oci/checkout@sha256%3A0b1c",
            },
        },
        "customData": {"project": stage.project},
    }
    cloud = CloudEvent(
        attributes={
            "id": "ce-3",
            "source": "/ci/shop",
            "type": cdevent["context"]["type"],
            "specversion": "1.0",
            "datacontenttype": "application/json",
        },
        data=cdevent,
    )
    message = to_binary_event(cloud)
    headers = dict(message.headers) | {"Authorization": f"Bearer {CDEVENTS_TOKEN.decode()}"}
    return post(stage.webhook("cdevents"), message.body, headers)[0]


def test_scripted_webhooks_yield_the_dora_values_computed_by_hand(stage: Stage) -> None:
    t = stage.as_of_ms
    merge_sha, old_sha = "a" * 40, "b" * 40
    statuses = [
        _github(
            stage,
            "push",
            "d-push",
            {
                "ref": "refs/heads/task-5-cache",
                "commits": [
                    {
                        "id": "c" * 40,
                        "distinct": True,
                        "message": "Cache builds",
                        "timestamp": iso(t - 5 * HOUR_MS),
                        "author": {"username": "mona", "name": "Mona"},
                    }
                ],
            },
        ),
        _github(
            stage,
            "pull_request",
            "d-merge",
            {
                "action": "closed",
                "pull_request": {
                    "number": 7,
                    "merged": True,
                    "merge_commit_sha": merge_sha,
                    "title": "Cache builds TASK-5",
                    "body": "",
                    "created_at": iso(t - 4 * HOUR_MS),
                    "merged_at": iso(t - 3 * HOUR_MS),
                    "user": {"login": "mona"},
                    "head": {"ref": "task-5-cache", "sha": "c" * 40},
                },
            },
        ),
        _github(
            stage,
            "deployment_status",
            "d-deploy-1",
            _deployment_status(stage, 1001, merge_sha, t - 2 * HOUR_MS, {}),
        ),
        _pagerduty(stage, "incident.triggered", "pd-1", t - 110 * 60_000),
        _github(
            stage,
            "deployment_status",
            "d-deploy-2",
            _deployment_status(
                stage,
                1002,
                old_sha,
                t - 90 * 60_000,
                {
                    "kind": "rollback",
                    "rolls_back_deployment_id": "1001",
                    "remediates_incident_id": "PINC1",
                },
            ),
        ),
        _pagerduty(stage, "incident.resolved", "pd-2", t - 80 * 60_000),
        _cdevents_deployed(stage, t - 30 * 60_000),
    ]
    assert statuses == [200] * 7, stage.receiver.tail()

    # By hand, for each window (1d, 7d, 30d hold the same events):
    #   deployments 1001 (T-2h), 1002 rollback (T-1h30m), cd-deploy-3 (T-30m)   -> 3
    #   failed: 1001, caused the incident and rolled back by 1002                 -> 1/3
    #   rework: 1002 is a rollback remediating the incident                      -> 1/3
    #   lead time: 1001 ships the merge commit, opened as a pull request at T-4h  -> 7200 s
    #   recovery: PINC1 caused by 1001, opened T-1h50m, resolved T-1h20m          -> 1800 s
    expected = {
        "devmetrics_dora_deployments": 3.0,
        "devmetrics_dora_change_failure_ratio": 1 / 3,
        "devmetrics_dora_rework_ratio": 1 / 3,
        'devmetrics_dora_lead_time_seconds{quantile="0.5"}': 7200.0,
        'devmetrics_dora_lead_time_seconds{quantile="0.9"}': 7200.0,
        'devmetrics_dora_recovery_time_seconds{quantile="0.5"}': 1800.0,
        'devmetrics_dora_recovery_time_seconds{quantile="0.9"}': 1800.0,
    }
    applied = f'devmetrics_state_events_applied_total{{project="{stage.project}"}}'
    wait_for(
        lambda: stage.value(applied) == 7, 180, what=f"7 events applied:\n{stage.worker.tail()}"
    )
    _assert_dora(stage, expected)

    # A redelivery (same delivery id) and a forged webhook change nothing.
    duplicates = stage.worker_metric("devmetrics_processor_events_duplicate_total")
    redelivered = _github(
        stage,
        "deployment_status",
        "d-deploy-1",
        _deployment_status(stage, 1001, merge_sha, t - 2 * HOUR_MS, {}),
    )
    forged = _github(
        stage,
        "deployment_status",
        "d-forged",
        _deployment_status(stage, 1003, merge_sha, t - HOUR_MS, {}),
        secret=b"guess",
    )
    assert (redelivered, forged) == (200, 401)
    wait_for(
        lambda: (
            stage.worker_metric("devmetrics_processor_events_duplicate_total") == duplicates + 1
        ),
        60,
        0.5,
        "the worker to see the redelivered event as a duplicate",
    )
    time.sleep(5)  # two snapshot intervals and scrapes
    assert stage.value(applied) == 7
    _assert_dora(stage, expected)
    scraped = stage.value('sum(devmetrics_receiver_requests_total{job="devmetrics-receivers"})')
    wait_for(
        lambda: (
            (
                stage.value('sum(devmetrics_receiver_requests_total{job="devmetrics-receivers"})')
                or 0
            )
            >= 9
        ),
        60,
        what=f"Prometheus to scrape the receiver (saw {scraped})",
    )
    assert (
        stage.value(
            "sum(devmetrics_receiver_rejected_total"
            '{job="devmetrics-receivers", reason="bad_signature"})'
        )
        == 1
    )


def _assert_dora(stage: Stage, expected: dict[str, float]) -> None:
    for window in ("1d", "7d", "30d"):
        for series, value in expected.items():
            name, _, labels = series.partition("{")
            selector = f'{name}{{project="{stage.project}", window="{window}"' + (
                f", {labels}" if labels else "}"
            )
            got = wait_for(
                lambda s=selector: stage.value(s) is not None, 60, 1, selector
            ) and stage.value(selector)
            assert got == pytest.approx(value, rel=1e-9), (selector, got)
