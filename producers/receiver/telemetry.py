"""The receiver's own metrics, in a registry of its own (served on its /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ReceiverTelemetry:
    """Requests by source and status, events by source, family and type, rejects by reason,
    dead letters, request and publish latency."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "devmetrics_receiver_requests",
            "Webhook requests answered, by source and HTTP status.",
            ["source", "status"],
            registry=r,
        )
        self.events = Counter(
            "devmetrics_receiver_events",
            "Events published from webhooks, by source, family and type.",
            ["source", "family", "type"],
            registry=r,
        )
        self.rejected = Counter(
            "devmetrics_receiver_rejected",
            "Webhooks refused (401, 400, 413, 503), by source and reason.",
            ["source", "reason"],
            registry=r,
        )
        self.ignored = Counter(
            "devmetrics_receiver_ignored",
            "Authentic webhooks of kinds the metrics do not use (202), by source and reason.",
            ["source", "reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "devmetrics_receiver_dead_letters",
            "Authentic but unmappable webhooks sent to the dead-letter topic, by reason.",
            ["source", "reason"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "devmetrics_receiver_request_seconds",
            "Time from the request's body read to the answer, by source.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.publish_seconds = Histogram(
            "devmetrics_receiver_publish_seconds",
            "Time from producing a webhook's events to the broker's last acknowledgement.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
