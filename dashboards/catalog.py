"""The metric names the system produces, read from the code that produces them.

Four producers: the exporter shards (the project families of the metric catalogue, and a real
scrape body for the shard's own metrics),
the processor worker and the webhook receiver (their metric registries) and Prometheus'
recording rules (the rule files, read as they are: only the shards' cost is recorded, every
project figure is exported).
Prometheus adds its own series per target and per alert. A dashboard may read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from core.catalogue import FAMILIES, exposition_names
from core.paths import infra_dir
from exporters.series import ServicePolicy
from exporters.shard import ShardState

RULES_DIR = infra_dir("prometheus", "rules")

# Series Prometheus itself writes: one set per scrape target, and one per active alert
# (https://prometheus.io/docs/concepts/jobs_instances/, alerting rules' ALERTS series).
PROMETHEUS_SERIES = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
        "ALERTS",
        "ALERTS_FOR_STATE",
    }
)
# Sample-name suffixes of each metric type in the text exposition format.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
}


@dataclass(frozen=True, slots=True)
class Catalog:
    """Produced series names by producer, and the alert names of the rule files."""

    exporter: frozenset[str]
    processor: frozenset[str]
    recorded: frozenset[str]
    alerts: frozenset[str]
    receiver: frozenset[str] = frozenset()

    @property
    def names(self) -> frozenset[str]:
        return self.exporter | self.processor | self.receiver | self.recorded | PROMETHEUS_SERIES


def exposition_names_of(text: str) -> frozenset[str]:
    """Sample names of a text-format scrape body."""
    return frozenset(
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    )


def exporter_names() -> frozenset[str]:
    """Every project family of the metric catalogue, and the sample names of a real shard's
    own metrics (a scrape body of a shard that serves no project yet)."""
    state = ShardState(0, 1, ServicePolicy())
    state.set_lag({0: 0}, caught_up=True)
    body, _encoding = state.scrape(accept_gzip=False)
    project = {name for family in FAMILIES for name in exposition_names(family)}
    return frozenset(project) | exposition_names_of(body.decode())


def processor_names() -> frozenset[str]:
    """Sample names of a processor worker's registry, labelled or not (types give suffixes)."""
    from processors.telemetry import WorkerMetrics

    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry)
    metrics.attach_state(lambda: {}, lambda: {})
    return registry_names(registry)


def receiver_names() -> frozenset[str]:
    """Sample names of the webhook receiver's registry."""
    from producers.receiver.telemetry import ReceiverTelemetry

    return registry_names(ReceiverTelemetry().registry)


def registry_names(registry: CollectorRegistry) -> frozenset[str]:
    """Sample names of a registry's families, labelled or not (their types give suffixes)."""
    return frozenset(
        family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]
    )


def rule_names(rules_dir: Path = RULES_DIR) -> tuple[frozenset[str], frozenset[str]]:
    """(recorded series, alert names) of every rule file."""
    recorded: set[str] = set()
    alerts: set[str] = set()
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    recorded.add(rule["record"])
                else:
                    alerts.add(rule["alert"])
    return frozenset(recorded), frozenset(alerts)


def load_catalog(rules_dir: Path = RULES_DIR) -> Catalog:
    recorded, alerts = rule_names(rules_dir)
    return Catalog(exporter_names(), processor_names(), recorded, alerts, receiver_names())
