"""The worker's own metrics, on an injected registry, served on /metrics.

Counters and histograms are updated where the work happens; gauges that describe the state
(projects, rows, lag) are read from the worker by a collector at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.errors import listening

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)


class StateGauges(Collector):
    """Gauges computed at scrape time from callables the worker provides."""

    def __init__(
        self,
        sizes: Callable[[], Mapping[str, float]],
        lag: Callable[[], Mapping[tuple[str, int], int]],
    ) -> None:
        self._sizes = sizes
        self._lag = lag

    def collect(self) -> Iterable[Any]:
        sizes = dict(self._sizes())
        for name, doc in (
            ("projects", "Projects held in this worker's state"),
            ("state_rows", "Event rows held in this worker's state (31-day retention)"),
            ("block_cache_blocks", "Decoded hour blocks kept between batches"),
            ("snapshots_pending", "Changed projects waiting for their next snapshot"),
        ):
            yield GaugeMetricFamily(f"devmetrics_processor_{name}", doc, value=sizes.get(name, 0))
        lag = GaugeMetricFamily(
            "devmetrics_processor_consumer_lag",
            "Messages between the last one consumed and the end of the partition",
            labels=["topic", "partition"],
        )
        for (topic, partition), value in sorted(dict(self._lag()).items()):
            lag.add_metric([topic, str(partition)], value)
        yield lag


class WorkerMetrics:
    """All metric objects of one worker, registered on `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.consumed = Counter(
            "devmetrics_processor_events_consumed",
            "Messages consumed per topic",
            ["topic"],
            registry=registry,
        )
        self.rejected = Counter(
            "devmetrics_processor_events_rejected",
            "Messages sent to the dead-letter topic, per source topic and reason",
            ["topic", "reason"],
            registry=registry,
        )
        self.applied = Counter(
            "devmetrics_processor_events_applied",
            "Events folded into the state, per family",
            ["family"],
            registry=registry,
        )
        self.duplicates = Counter(
            "devmetrics_processor_events_duplicate",
            "Events whose id was already applied (ignored), per family",
            ["family"],
            registry=registry,
        )
        self.refetches = Counter(
            "devmetrics_processor_refetches",
            "Times an event partition was sought back to re-read messages its fetch had passed "
            "over (the delivery check of processors/bulk.py)",
            ["topic"],
            registry=registry,
        )
        self.slo_reloads = Counter(
            "devmetrics_processor_slo_definitions_reloads",
            "Times the SLO definitions file changed and was read again: `applied` (the next "
            "snapshots use it) or `refused` (unusable; the definitions in force stay)",
            ["result"],
            registry=registry,
        )
        self.quarantined = Counter(
            "devmetrics_processor_blocks_quarantined",
            "Stored hour blocks that could not be read: copied to the quarantine folder and "
            "left out of the state (their project is served from the blocks that remain)",
            registry=registry,
        )
        self.expired = Counter(
            "devmetrics_processor_projects_expired",
            "Projects removed by the retention sweep (no event within 31 days): their state "
            "deleted and a tombstone published",
            registry=registry,
        )
        self.snapshots = Counter(
            "devmetrics_processor_snapshots_published",
            "State snapshots published",
            registry=registry,
        )
        self.groups_kept = Counter(
            "devmetrics_processor_snapshot_groups_kept",
            "Figure groups of published snapshots reused from the project's previous snapshot "
            "(no input row changed and no window edge passed since)",
            registry=registry,
        )
        self.freshness = Histogram(
            "devmetrics_processor_event_to_state_seconds",
            "From an event's arrival in Kafka to the publication of a snapshot reflecting it",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.snapshot_cost = Histogram(
            "devmetrics_processor_snapshot_compute_seconds",
            "CPU time of one project snapshot",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=registry,
        )
        self.batch_cost = Histogram(
            "devmetrics_processor_batch_seconds",
            "Time to fold one batch and store its blocks",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=registry,
        )

    def attach_state(
        self,
        sizes: Callable[[], Mapping[str, float]],
        lag: Callable[[], Mapping[tuple[str, int], int]],
    ) -> None:
        self.registry.register(StateGauges(sizes, lag))


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Serve the registry on http://host:port/metrics from a daemon thread."""
    server, _thread = listening(
        host,
        port,
        "the processor's /metrics",
        lambda: start_http_server(port, addr=host, registry=registry),
    )
    return server
