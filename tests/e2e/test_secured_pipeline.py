"""The pipeline on a secured stack of its own equals the simulator's truth at every stage.

Thirty projects (the first ten with 14 days, every scenario among them) are published by the
producer role, so human names reach Kafka as pseudonyms; a processor worker and two exporter
shards run as their own roles over SASL_SSL, the shards serve HTTPS with basic auth, and
Prometheus and VictoriaMetrics are read over HTTPS as the operator. Pseudonyms must not change
a single metric, so each stage is compared with the truth of the names in clear.

The webhook receiver runs as the producer role too: HTTPS with the stack's certificate, basic
auth on its /metrics (scraped by the secured Prometheus), signed webhooks only.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import re
import ssl
import time
import urllib.error
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
from support.receiver import SECRET, github_headers, post
from support.secured import Secured, secured_stack

from core.kafka import client_config
from core.security import Pseudonymizer, basic_auth_header, role_env
from devmetrics.stack.components import Prometheus
from devmetrics.stack.process import free_port
from producers.publisher import Publisher
from producers.simulator import compute_metrics
from schemas.codec import Codec

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]

PROJECTS, LONG_PROJECTS = 30, 10
PARTITIONS = 4
# The projects of the receiver's webhooks: one published, one refused. Not in the truth.
RECEIVED, FORGED = "acme/received", "acme/forged"


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


def _published(run: SecuredRun, projects: set[str]) -> list[tuple[bytes, dict[str, Any]]]:
    """The events of `projects` on the event topics, read as the admin to their ends: each
    message's bytes and its decoded record."""
    kafka = run.secured.kafka("admin")
    partitions = [
        TopicPartition(topic, p, OFFSET_BEGINNING)
        for topic in run.secured.topics.all_events
        for p in range(kafka.partitions)
    ]
    consumer = Consumer(
        {**client_config(kafka), "group.id": f"raw-{uuid.uuid4()}", "enable.partition.eof": True}
    )
    keys = {p.encode() for p in projects}
    codec, out, ended = Codec.default(), [], 0
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
                if message.key() in keys:
                    out.append((value, codec.decode(value).record))
    finally:
        consumer.close()
    assert ended == len(partitions), f"{ended} of {len(partitions)} partitions read to the end"
    return out


def test_people_reach_kafka_only_as_pseudonyms(run: SecuredRun) -> None:
    published = _published(run, set(run.truth))
    names = {r["actor"]["name"] for _, r in published if r["actor"]["kind"] == "human"}
    assert len(published) == sum(t["events"] for t in run.truth.values())
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
    # The receiver's test may have added its project; the backfill's are all there.
    assert {r["metric"]["project"] for r in deployments} - {RECEIVED} == set(run.truth)
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


@dataclass
class Receiver:
    """`devmetrics receive` on the secured stack, as the producer role."""

    proc: Subprocess
    address: str
    context: ssl.SSLContext

    def webhook(self, source: str) -> str:
        return f"https://{self.address}/webhooks/{source}"

    def get(self, path: str, authorization: str | None = None) -> tuple[int, str]:
        """GET over HTTPS, the receiver's certificate verified against the stack CA."""
        request = urllib.request.Request(f"https://{self.address}{path}")
        if authorization is not None:
            request.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def healthy(self) -> bool:
        assert self.proc.alive(), f"the receiver exited:\n{self.proc.tail()}"
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False


@pytest.fixture(scope="module")
def receiver(run: SecuredRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    workdir = tmp_path_factory.mktemp("secured-receiver")
    secured = run.secured
    secret = workdir / "github.secret"
    secret.write_bytes(SECRET)
    prometheus = secured.stack.component("prometheus")
    assert isinstance(prometheus, Prometheus)
    port = free_port()
    proc = Subprocess(
        [
            "receive",
            "--port",
            str(port),
            "--sd-file",
            str(prometheus.targets_dir / f"receivers-{secured.topics.prefix}.json"),
        ],
        _role_env(secured, "producer")
        | {
            "DEVMETRICS_RECEIVER__GITHUB_SECRET_FILE": str(secret),
            "DEVMETRICS_RECEIVER__PUBLISH_TIMEOUT_S": "60",
        },
        workdir / "receiver.log",
    )
    context = ssl.create_default_context(cafile=str(secured.material.ca_file))
    running = Receiver(proc, f"127.0.0.1:{port}", context)
    try:
        wait_for(running.healthy, 60, 0.5, what="the receiver to answer over HTTPS")
        yield running
    finally:
        proc.stop()


def _push(project: str, login: str, at_ms: int) -> tuple[bytes, list[str]]:
    """A GitHub push of two commits by `login`, and the commits' ids."""
    shas = [hashlib.sha1(f"{project}/{login}/{i}".encode()).hexdigest() for i in range(2)]
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_ms / 1000))
    author = {"name": "Mona Lisa Octocat", "email": f"{login}@example.com", "username": login}
    payload = {
        "ref": "refs/heads/main",
        "repository": {"full_name": project},
        "sender": {"login": login},
        "pusher": {"name": login, "email": author["email"]},
        "commits": [
            {
                "id": sha,
                "distinct": True,
                "message": "Fix the total",
                "timestamp": at,
                "author": author,
            }
            for sha in shas
        ],
    }
    return json.dumps(payload).encode(), shas


def test_a_signed_push_over_https_reaches_kafka_with_its_author_as_a_pseudonym(
    run: SecuredRun, receiver: Receiver
) -> None:
    login = f"mona-{uuid.uuid4().hex[:8]}"
    body, shas = _push(RECEIVED, login, run.as_of_ms - 60 * MINUTE_MS)
    headers = github_headers("push", str(uuid.uuid4()), body)
    status, answer = post(receiver.webhook("github"), body, headers, receiver.context)
    assert status == 200 and answer["status"] == "published", (answer, receiver.proc.tail())
    published = _published(run, {RECEIVED})
    records = [record for _, record in published]
    assert sorted(r["event_id"] for r in records) == sorted(answer["event_ids"])
    assert sorted((r["type"], r["change_id"]) for r in records) == sorted(
        ("committed", sha) for sha in shas
    )
    pseudonym = Pseudonymizer.from_file(run.secured.material.pseudonym_key_file).pseudonym(login)
    assert {(r["actor"]["kind"], r["actor"]["name"]) for r in records} == {("human", pseudonym)}
    assert not [value for value, _ in published if login.encode() in value]


def test_plain_http_and_forged_signatures_are_refused_and_publish_nothing(
    run: SecuredRun, receiver: Receiver
) -> None:
    body, _ = _push(FORGED, "mona", run.as_of_ms - 60 * MINUTE_MS)
    signed = github_headers("push", str(uuid.uuid4()), body)
    with pytest.raises((OSError, http.client.HTTPException)):
        post(f"http://{receiver.address}/webhooks/github", body, signed)
    forged = github_headers("push", str(uuid.uuid4()), body, secret=b"guess")
    assert post(receiver.webhook("github"), body, forged, receiver.context)[0] == 401
    unsigned = {k: v for k, v in forged.items() if k != "X-Hub-Signature-256"}
    assert post(receiver.webhook("github"), body, unsigned, receiver.context)[0] == 401
    assert _published(run, {FORGED}) == []
    operator = basic_auth_header("operator", run.secured.material.secret("http", "operator"))
    status, text = receiver.get("/metrics", operator)
    assert status == 200
    assert 'devmetrics_receiver_rejected_total{reason="bad_signature",source="github"} 1.0' in text
    assert 'devmetrics_receiver_rejected_total{reason="missing_signature",source="github"} 1.0' in (
        text
    )


def _dead_letters(run: SecuredRun) -> list[tuple[bytes, dict[str, Any]]]:
    """Every dead letter's value and headers, read as the admin (no other role may read them)."""
    kafka = run.secured.kafka("admin")
    topic = run.secured.topics.deadletter
    partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(kafka.partitions)]
    consumer = Consumer(
        {**client_config(kafka), "group.id": f"dlq-{uuid.uuid4()}", "enable.partition.eof": True}
    )
    letters, ended = [], 0
    deadline = time.monotonic() + 60
    try:
        consumer.assign(partitions)
        while ended < len(partitions) and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is not None:
                    ended += 1
                    continue
                letters.append((message.value() or b"", dict(message.headers() or [])))
    finally:
        consumer.close()
    return letters


def test_an_authentic_webhook_that_cannot_be_mapped_is_dead_lettered_on_the_secured_stack(
    run: SecuredRun, receiver: Receiver
) -> None:
    body = json.dumps({"ref": "refs/heads/main", "commits": [], "n": str(uuid.uuid4())}).encode()
    delivery = str(uuid.uuid4())
    status, answer = post(
        receiver.webhook("github"), body, github_headers("push", delivery, body), receiver.context
    )
    assert (status, answer["reason"]) == (400, "no_project"), (answer, receiver.proc.tail())
    [letter] = [h for value, h in _dead_letters(run) if value == body]  # kept as received
    assert letter["dlq.reason"] == b"no_project" and letter["dlq.topic"] == b"webhook:github"
    assert letter["dlq.delivery_id"] == delivery.encode()


def test_receiver_metrics_need_basic_auth_and_the_secured_prometheus_scrapes_them(
    run: SecuredRun, receiver: Receiver
) -> None:
    material = run.secured.material
    assert receiver.get("/metrics")[0] == 401
    assert receiver.get("/metrics", basic_auth_header("operator", "a guess"))[0] == 401
    vm = basic_auth_header("victoriametrics", material.secret("http", "victoriametrics"))
    assert receiver.get("/metrics", vm)[0] == 401
    for user in ("prometheus", "operator"):
        status, text = receiver.get(
            "/metrics", basic_auth_header(user, material.secret("http", user))
        )
        assert status == 200 and "# TYPE devmetrics_receiver_requests_total counter" in text, user
    up = wait_for(
        lambda: [
            r
            for r in run.query("prometheus", "operator", 'up{job="devmetrics-receivers"}')
            if r["value"][1] == "1"
        ],
        60,
        1,
        what="the secured Prometheus to scrape the receiver over HTTPS with basic auth",
    )
    assert [r["metric"]["instance"] for r in up] == [receiver.address]
