"""The pipeline's output equals the simulator's truth at every stage, and alerts reach people."""

from __future__ import annotations

import logging
import random
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from support.pipeline import (
    DUPLICATES,
    E2E_AGENT_TOP_N,
    LONG_PROJECTS,
    POISON,
    PROJECTS,
    SEED,
    Key,
    PipelineRun,
    StateReader,
    differences,
    expected_series,
    families,
    holdings,
    mismatches,
    project_events,
    prometheus_query,
    scenario_spans,
    series,
    start_worker,
    wait_for,
    write_slo_file,
)

from core.kafka import client_config, ensure_topics
from core.settings import KafkaSettings
from producers.publisher import Publisher
from producers.simulator import project_spec
from schemas.topics import Topics

log = logging.getLogger(__name__)

# The first test pays for the whole pipeline's backfill (the session fixture), the shuffled
# test for a second one: minutes each on two cores, beyond the default per-test timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]


def test_state_snapshots_equal_the_truth_for_every_project_and_metric(
    pipeline: PipelineRun,
) -> None:
    assert set(pipeline.snapshots) == set(pipeline.project_ids)
    compared = 0
    problems: dict[str, list[str]] = {}
    for pid, truth in pipeline.truth.items():
        snapshot = pipeline.snapshots[pid]
        assert snapshot["as_of"] == pipeline.as_of_ms
        diff = differences(series(truth["metrics"]), series(snapshot["metrics"]))
        if diff:
            problems[pid] = diff[:5]
        compared += len(truth["metrics"])
    assert not problems, f"{len(problems)} projects differ: {dict(list(problems.items())[:5])}"
    assert compared > 100 * len(pipeline.truth)
    # The SLO definitions (support.pipeline.E2E_SLO_YAML) reach every kind of SLO figure:
    # own objectives, calendar periods, a third SLO, freezes and deployments made during one.
    values = [m for t in pipeline.truth.values() for m in t["metrics"]]
    objectives = {m["value"] for m in values if m["name"] == "devmetrics_slo_objective_ratio"}
    assert objectives == {0.9, 0.95, 0.99, 0.995, 0.999}
    assert {m["labels"]["slo"] for m in values if m["name"].startswith("devmetrics_slo_")} == {
        "availability",
        "latency",
        "fast",
    }
    assert any(m["name"] == "devmetrics_slo_deploy_freeze" and m["value"] == 1 for m in values)
    assert any(m["name"] == "devmetrics_slo_policy_violations" and m["value"] > 0 for m in values)


def test_poison_is_dead_lettered_and_duplicates_are_counted_once(pipeline: PipelineRun) -> None:
    consumer = Consumer(
        {
            **client_config(pipeline.kafka),
            "group.id": f"dlq-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    topic = Topics(pipeline.kafka.topic_prefix)
    consumer.assign(
        [TopicPartition(topic.deadletter, p, 0) for p in range(pipeline.kafka.partitions)]
    )
    letters: list[Any] = []
    deadline = time.monotonic() + 30
    while len(letters) < POISON and time.monotonic() < deadline:
        letters += [m for m in consumer.consume(100, timeout=0.5) if m.error() is None]
    letters += [m for m in consumer.consume(100, timeout=2) if m.error() is None]
    consumer.close()
    assert sorted(m.value() for m in letters) == [
        f"not an event {n}".encode() for n in range(POISON)
    ]
    for letter in letters:
        headers = dict(letter.headers())
        assert headers["dlq.reason"] == b"undecodable"
        assert headers["dlq.topic"] == topic.events("deployment").encode()
        assert int(headers["dlq.offset"]) >= 0
    rejected = pipeline.query("sum(devmetrics_processor_events_rejected_total)")
    duplicates = pipeline.query("sum(devmetrics_processor_events_duplicate_total)")
    assert float(rejected[0]["value"][1]) == POISON
    assert float(duplicates[0]["value"][1]) == DUPLICATES


def test_every_scenario_is_present_among_the_long_projects(pipeline: PipelineRun) -> None:
    names = {s["name"] for t in pipeline.truth.values() for s in t["scenarios"]}
    assert names == {
        "incident_storm",
        "latency_regression",
        "error_spike",
        "failing_deployments",
        "deployment_freeze",
        "review_backlog",
        "flaky_tests",
        "agent_failure_loop",
        "project_silent",
    }


def _expected(pipeline: PipelineRun, pid: str) -> dict[Key, float]:
    return expected_series(pipeline.truth[pid], pipeline.snapshots[pid], pipeline.as_of_ms)


def _families(pipeline: PipelineRun) -> list[str]:
    return families(pipeline.truth)


def _holdings(base: str, names: list[str], **params: str) -> dict[str, dict[Key, float]]:
    return holdings(base, names, **params)


def _mismatches(pipeline: PipelineRun, held: dict[str, dict[Key, float]]) -> dict[str, list[str]]:
    return mismatches(pipeline.truth, pipeline.snapshots, pipeline.as_of_ms, held)


def test_each_prometheus_holds_exactly_the_truth_of_its_projects(pipeline: PipelineRun) -> None:
    """Both ways, for every project: no series missing, none unexpected, every value equal;
    each project in exactly one of the Prometheus servers."""
    names = _families(pipeline)
    holdings = [_holdings(url, names) for url in pipeline.prometheus_urls]
    assert len(holdings) == 2 and all(holdings), [len(h) for h in holdings]
    owners = Counter(pid for held in holdings for pid in held)
    assert set(owners) == set(pipeline.project_ids)
    assert {n for n in owners.values()} == {1}, [p for p, n in owners.items() if n > 1][:5]
    merged = {pid: got for held in holdings for pid, got in held.items()}
    problems = _mismatches(pipeline, merged)
    assert not problems, f"{len(problems)} projects differ: {dict(list(problems.items())[:5])}"
    # Every service of every project has both SLOs' series: no service is left out.
    services = {
        (pid, dict(k[1])["service"])
        for pid, t in pipeline.truth.items()
        for k in series(t["metrics"])
        if k[0] == "devmetrics_slo_burn_rate"
    }
    per_project = Counter(pid for pid, _ in services)
    assert max(per_project.values()) >= 3, "the run has no project with three services"
    compared = sum(len(got) for got in merged.values())
    log.info("e2e: %d series of %d projects equal the truth", compared, len(merged))


def test_victoriametrics_holds_exactly_the_truth_of_every_project(pipeline: PipelineRun) -> None:
    names = _families(pipeline)
    deadline = time.monotonic() + 240
    while True:
        held = _holdings(pipeline.victoriametrics_url, names, latency_offset="1s")
        problems = _mismatches(pipeline, held)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(5)
    # VictoriaMetrics answers with 12 significant digits: equal within 1e-9 relative.
    assert not problems, f"{len(problems)} projects differ: {dict(list(problems.items())[:5])}"
    fleet = pipeline.query_fleet(
        "count(count by (project) (devmetrics_state_as_of_timestamp_seconds))"
    )
    assert float(fleet[0]["value"][1]) == PROJECTS


def test_prometheus_keeps_no_copies_of_exported_series(pipeline: PipelineRun) -> None:
    """Head series stay within 1.2 x what the shards export: no rule copies them."""
    for url in pipeline.prometheus_urls:
        head = float(prometheus_query(url, "prometheus_tsdb_head_series")[0]["value"][1])
        exported = float(prometheus_query(url, "sum(devmetrics_exporter_series)")[0]["value"][1])
        rules = prometheus_query(url, 'count({__name__=~".+:.+"})')
        recorded = float(rules[0]["value"][1]) if rules else 0.0
        log.info("%s: %d head series, %d exported, %d recorded", url, head, exported, recorded)
        assert exported > 0 and head <= 1.2 * exported, (url, head, exported)
        assert recorded < 100, (url, recorded)


def test_project_info_carries_the_simulated_team(pipeline: PipelineRun) -> None:
    specs = [project_spec(SEED, i) for i in range(1, PROJECTS + 1)]
    teams = {spec.project_id: spec.team for spec in specs}
    for pid in _sampled(pipeline, 10):
        result = pipeline.query_all(f'devmetrics_project_info{{project="{pid}"}}')
        assert [r["metric"].get("team") for r in result] == [teams[pid]], (pid, result)


def _sampled(pipeline: PipelineRun, k: int) -> list[str]:
    rng = random.Random(5)
    picks = set(rng.sample(pipeline.project_ids, k))
    picks.update(pipeline.backfill.with_scenario("error_spike")[:1])
    picks.update(pipeline.backfill.with_scenario("failing_deployments")[:1])
    return sorted(picks)


# The burn-rate tiers of infra/prometheus/rules/slo_alerts.yml: (long, short, factor).
TIERS = {
    "page-fast": ("1h", "5m", 14.4),
    "page-slow": ("6h", "30m", 6.0),
    "ticket-fast": ("1d", "2h", 3.0),
    "ticket-slow": ("3d", "6h", 1.0),
}
MIN_EVENTS = 20


def _slo(values: dict[Key, float], name: str, service: str, slo: str, window: str) -> float | None:
    return values.get((name, (("service", service), ("slo", slo), ("window", window))))


def expected_burn_alerts(pipeline: PipelineRun) -> set[tuple[str, str, str, str]]:
    """(project, service, slo, tier) that must fire, from the truth's burn rates and counts."""
    expected = set()
    for pid, truth in pipeline.truth.items():
        values = series(truth["metrics"])
        slos = {
            (dict(k[1])["service"], dict(k[1])["slo"])
            for k in values
            if k[0] == "devmetrics_slo_objective_ratio"
        }
        for service, slo in slos:
            objective = values[
                ("devmetrics_slo_objective_ratio", (("service", service), ("slo", slo)))
            ]
            for tier, (long, short, factor) in TIERS.items():
                burn_long = _slo(values, "devmetrics_slo_burn_rate", service, slo, long)
                burn_short = _slo(values, "devmetrics_slo_burn_rate", service, slo, short)
                requests = _slo(values, "devmetrics_slo_requests", service, slo, long) or 0
                if (
                    burn_long is not None
                    and burn_short is not None
                    and burn_long > factor
                    and burn_short > factor
                    and requests >= MIN_EVENTS
                    and requests * (1 - objective) * factor >= 1
                ):
                    expected.add((pid, service, slo, tier))
    return expected


def spiked_with_builtin_availability(pipeline: PipelineRun) -> set[str]:
    """Projects with an error spike and a service under the built-in availability objective."""
    return {
        p
        for p in pipeline.backfill.with_scenario("error_spike")
        if any(
            m["name"] == "devmetrics_slo_objective_ratio"
            and m["labels"]["slo"] == "availability"
            and m["value"] == 0.999
            for m in pipeline.truth[p]["metrics"]
        )
    }


def test_burn_rate_alerts_fire_exactly_where_the_truth_burns(pipeline: PipelineRun) -> None:
    expected = expected_burn_alerts(pipeline)

    def firing() -> set[tuple[str, str, str, str]]:
        return {
            (
                r["metric"]["project"],
                r["metric"]["service"],
                r["metric"]["slo"],
                r["metric"]["tier"],
            )
            for r in pipeline.query_all(
                'ALERTS{alertname="DevmetricsSLOErrorBudgetBurn", alertstate="firing"}'
            )
        }

    got = wait_for(
        lambda: ((f := firing()) == expected and f) or None,
        120,
        what="Prometheus' burn-rate alerts to match the truth",
    )
    assert got == expected
    # An error spike pages fast on availability wherever a service keeps the built-in
    # objective; where the definitions loosen it (0.995 for api and gateway), the same spike
    # burns five times slower and the truth decides alone.
    spiked = set(pipeline.backfill.with_scenario("error_spike"))
    builtin = spiked_with_builtin_availability(pipeline)
    assert builtin and builtin <= {
        p for p, _, slo, tier in expected if tier == "page-fast" and slo == "availability"
    }
    assert spiked - builtin  # the configured objectives changed who pages
    quiet = {
        p
        for p, t in pipeline.truth.items()
        if not any(m["name"] == "devmetrics_slo_burn_rate" and m["value"] > 1 for m in t["metrics"])
    }
    assert quiet and not {p for p, *_ in got} & quiet


def test_error_spike_pages_reach_the_webhook_and_inhibit_tickets(
    pipeline: PipelineRun, alert_receiver: Any
) -> None:
    pages = {p for p, _s, _slo, tier in expected_burn_alerts(pipeline) if tier.startswith("page")}
    spiked = set(pipeline.backfill.with_scenario("error_spike")) & pages
    assert spiked

    def paged() -> set[str]:
        return {
            a["labels"]["project"]
            for a in alert_receiver.firing()
            if a["labels"].get("alertname") == "DevmetricsSLOErrorBudgetBurn"
            and a["labels"].get("severity") == "page"
        }

    wait_for(
        lambda: spiked <= paged(), 180, 3, what=f"page alerts for {sorted(spiked)} at the webhook"
    )
    delivered = [
        a
        for a in alert_receiver.firing()
        if a["labels"].get("alertname") == "DevmetricsSLOErrorBudgetBurn"
    ]
    paging = {
        (a["labels"]["project"], a["labels"]["service"], a["labels"]["slo"])
        for a in delivered
        if a["labels"].get("severity") == "page"
    }
    tickets_of_paging = [
        a["labels"]
        for a in delivered
        if a["labels"].get("severity") == "ticket"
        and (a["labels"]["project"], a["labels"]["service"], a["labels"]["slo"]) in paging
    ]
    assert not tickets_of_paging, tickets_of_paging[:3]
    expected_pages = {
        (p, s, slo) for p, s, slo, tier in expected_burn_alerts(pipeline) if tier.startswith("page")
    }
    assert paging == expected_pages
    # Each page comes from the one Prometheus server holding its project, and once: one
    # firing episode (a single start time) however many notifications carry it.
    holders = {}
    for url in pipeline.prometheus_urls:
        for r in prometheus_query(url, "devmetrics_state_as_of_timestamp_seconds"):
            holders[r["metric"]["project"]] = urllib.parse.urlsplit(url).netloc
    episodes: dict[tuple[str, str, str, str], set[tuple[str, str]]] = defaultdict(set)
    for a in delivered:
        if a["labels"].get("severity") == "page":
            labels = a["labels"]
            key = (labels["project"], labels["service"], labels["slo"], labels["tier"])
            episodes[key].add((a["startsAt"], urllib.parse.urlsplit(a["generatorURL"]).netloc))
    assert {k[0] for k in episodes} >= spiked
    for key, seen in episodes.items():
        assert seen == {(next(iter(seen))[0], holders[key[0]])}, (key, seen)


SHUFFLED_PROJECTS = min(LONG_PROJECTS, 40)


def test_shuffled_and_duplicated_events_give_identical_state(
    pipeline: PipelineRun, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """14-day projects again, each day's events shuffled and 1 % sent twice: every project
    with a problem scenario and the first SHUFFLED_PROJECTS others (each shuffled batch
    rewrites many hour blocks, so all 200 would take half an hour of CI)."""
    kafka = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"shuf{uuid.uuid4().hex[:8]}", partitions=12
    )
    ensure_topics(kafka)
    rng = random.Random(99)
    spans = scenario_spans(pipeline.as_of_ms)
    events: list[tuple[str, dict[str, Any]]] = []
    with_scenarios = {
        i for i in range(1, LONG_PROJECTS + 1) if project_spec(SEED, i).project_id in spans
    }
    for index in sorted(set(range(1, SHUFFLED_PROJECTS + 1)) | with_scenarios):
        events.extend(project_events(pipeline.as_of_ms, index, spans)[1])
    by_day: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for entry in events:
        by_day.setdefault(entry[1]["occurred_at"] // 86_400_000, []).append(entry)
    stream: list[tuple[str, dict[str, Any]]] = []
    for day in sorted(by_day):
        batch = by_day[day]
        rng.shuffle(batch)
        stream.extend(batch)
    duplicates = rng.sample(range(len(stream)), len(stream) // 100)
    for position in sorted(duplicates, reverse=True):
        stream.insert(min(len(stream), position + rng.randint(1, 5000)), stream[position])

    workdir = tmp_path_factory.mktemp("shuffled")
    worker = start_worker(
        kafka,
        pipeline.as_of_ms,
        workdir,
        "worker",
        agent_top_n=E2E_AGENT_TOP_N,
        slo_file=write_slo_file(workdir),
    )
    reader = StateReader(kafka)
    try:
        with Publisher(kafka) as publisher:
            for family, event in stream:
                publisher.publish(family, event)
            assert publisher.flush(120).acknowledged == len(stream)
        expected = {
            pid: pipeline.truth[pid]["events"] for pid in {e[1]["project_id"] for e in events}
        }
        reader.wait_until_applied(expected, worker, timeout_s=2400)
        time.sleep(1)
        for pid in expected:
            assert reader.latest[pid]["metrics"] == pipeline.snapshots[pid]["metrics"], pid
    finally:
        reader.close()
        worker.stop()
