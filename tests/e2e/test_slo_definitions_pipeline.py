"""SLO definitions changed under a running worker apply at its next snapshots, exactly, with
no event read again.

A worker of its own folds twenty 14-day projects (every scenario among them) under the e2e
SLO definitions (support.pipeline.E2E_SLO_YAML: own objectives, a calendar month in Berlin, an
ISO week in New York, a third SLO, freeze levels). Its snapshots equal the truth computed
under those definitions. Then the file is rewritten: a latency bound moves from 0.5 s to 1 s,
objectives and a freeze level change, an SLO is added. Every project's next snapshot, and
every SLO series an exporter shard serves, equals the truth computed under the new
definitions, while the worker consumed nothing more and folded nothing more.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.pipeline import (
    E2E_SLO_YAML,
    MINUTE_MS,
    Key,
    StateReader,
    Subprocess,
    differences,
    kafka_env,
    project_events,
    scenario_spans,
    series,
    start_worker,
    wait_for,
    write_slo_file,
)

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from core.slo_definitions import SloDefinitions, parse_slo_yaml
from devmetrics.stack.process import free_port
from producers.publisher import Publisher
from producers.simulator import compute_metrics

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

PROJECTS = 20
CHANGED = E2E_SLO_YAML.replace(
    "indicator: {kind: latency, threshold_s: 0.5}\n    objective: 0.95",
    "indicator: {kind: latency, threshold_s: 1.0}\n    objective: 0.97",
).replace("freeze_below: 0.25", "freeze_below: 0.9") + (
    "  - name: fast\n"
    "    services: [api]\n"
    "    indicator: {kind: latency, threshold_s: 0.05}\n"
    "    objective: 0.5\n"
    "    period: {calendar: month, timezone: Asia/Kolkata}\n"
)


def _worker_counters(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def _served_slo_series(port: int) -> dict[str, dict[Key, float]]:
    """Per project, the SLO series an exporter shard serves (keyed like `series`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, dict[Key, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            project = labels.pop("project", None)
            if project is not None and sample.name.startswith("devmetrics_slo_"):
                key = (sample.name, tuple(sorted(labels.items())))
                out.setdefault(project, {})[key] = sample.value
    return out


def _slo_only(metrics: list[dict]) -> dict[Key, float]:
    return {k: v for k, v in series(metrics).items() if k[0].startswith("devmetrics_slo_")}


def _consumed(counters: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(v for (name, _), v in counters.items() if name.endswith("events_consumed_total"))


def _truth(
    events: dict[str, list[tuple[str, dict]]], as_of: int, slos: SloDefinitions
) -> dict[str, list[dict]]:
    return {pid: compute_metrics(evs, as_of, slos=slos) for pid, evs in events.items()}


def _problems(truth: dict[str, list[dict]], reader: StateReader) -> dict[str, list[str]]:
    found = {}
    for pid, metrics in truth.items():
        diff = differences(series(metrics), series(reader.latest[pid]["metrics"]))
        if diff:
            found[pid] = diff[:5]
    return found


def test_a_changed_slo_file_applies_exactly_without_reading_events_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"slo{uuid.uuid4().hex[:8]}", partitions=4
    )
    ensure_topics(kafka)
    as_of = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS
    spans = scenario_spans(as_of, long_projects=PROJECTS)
    events = {}
    for index in range(1, PROJECTS + 1):
        pid, evs, _ = project_events(as_of, index, spans, long_projects=PROJECTS)
        events[pid] = evs
    before = parse_slo_yaml(E2E_SLO_YAML, "slo.yaml")
    after = parse_slo_yaml(CHANGED, "slo.yaml")
    truth_before, truth_after = _truth(events, as_of, before), _truth(events, as_of, after)
    # The change reaches every kind of SLO figure somewhere, or the test would prove little.
    changed = {
        name
        for pid in truth_before
        for (name, labels), value in series(truth_after[pid]).items()
        if series(truth_before[pid]).get((name, labels)) != value
    }
    assert {
        "devmetrics_slo_requests_good",
        "devmetrics_slo_error_budget_remaining_ratio",
        "devmetrics_slo_deploy_freeze",
        "devmetrics_slo_period_start_timestamp_seconds",
    } <= changed

    slo_file = write_slo_file(tmp_path)
    worker = start_worker(kafka, as_of, tmp_path, "worker", slo_file=slo_file)
    port = free_port()
    shard = Subprocess(["export", "--port", str(port)], kafka_env(kafka), tmp_path / "shard.log")
    reader = StateReader(kafka)
    try:
        with Publisher(kafka) as publisher:
            for evs in events.values():
                for family, event in evs:
                    publisher.publish(family, event)
            total = sum(len(evs) for evs in events.values())
            assert publisher.flush(120).acknowledged == total
        reader.wait_until_applied({p: len(e) for p, e in events.items()}, worker, timeout_s=900)
        assert not _problems(truth_before, reader)
        counters = _worker_counters(worker.metrics_port)
        assert _consumed(counters) == total

        changed_at = int(time.time() * 1000)
        slo_file.write_text(CHANGED)

        def applied() -> bool:
            reader.poll(2)
            fresh = all(reader.latest[p]["computed_at"] > changed_at for p in events)
            return fresh and not _problems(truth_after, reader)

        wait_for(applied, 120, 1, what="every project's snapshot under the new definitions")
        expected = {pid: _slo_only(metrics) for pid, metrics in truth_after.items()}
        wait_for(
            lambda: _served_slo_series(port) == expected,
            120,
            1,
            what="the shard to serve every SLO series of the new definitions",
        )
        for pid, evs in events.items():
            assert reader.latest[pid]["events_applied"] == len(evs)
        counters = _worker_counters(worker.metrics_port)
        assert _consumed(counters) == total  # nothing read again
        reloads = "devmetrics_processor_slo_definitions_reloads_total"
        assert counters[(reloads, (("result", "applied"),))] == 1
    finally:
        reader.close()
        shard.stop()
        worker.stop()
