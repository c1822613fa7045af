"""System health: the pipeline watching itself, and the fleet at a glance."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from exporters.dashboards.kit import (
    Q,
    bar_panel,
    dashboard,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)

UID = "devmetrics-health"
RATE = "[$__rate_interval]"


def _quantiles(histogram: str, by: str = "") -> list[Q]:
    grouping = f"{by}, le" if by else "le"
    return [
        Q(
            f"histogram_quantile({q}, sum by ({grouping}) (rate({histogram}_bucket{RATE})))",
            f"p{int(q * 100)}" + (f" {{{{{by}}}}}" if by else ""),
        )
        for q in (0.5, 0.9, 0.99)
    ]


def build() -> db.Dashboard:
    board = dashboard(
        UID,
        "devmetrics / System health",
        "Is the pipeline keeping up, and is the fleet reporting? Processors, exporter shards, "
        "Prometheus targets and the projects they serve.",
        ["health"],
    )
    board = (
        board.with_row(row("Fleet at a glance"))
        .with_panel(
            stat_panel(
                "Projects reporting",
                "Projects with a served state (devmetrics:projects:count).",
                [Q("devmetrics:projects:count")],
            )
        )
        .with_panel(
            stat_panel(
                "Oldest state",
                "Age of the oldest project state: how far behind the processors are.",
                [Q("devmetrics:state_age_seconds:max")],
                unit="s",
                steps=((None, "green"), (300, "yellow"), (900, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Exporter shards up",
                "Shards Prometheus scrapes successfully, of those configured.",
                [
                    Q('sum(up{job="devmetrics-exporters"})', "up"),
                    Q('count(up{job="devmetrics-exporters"})', "configured"),
                ],
            )
        )
        .with_panel(
            stat_panel(
                "Processors up",
                "Processor workers Prometheus scrapes successfully, of those configured.",
                [
                    Q('sum(up{job="devmetrics-processors"})', "up"),
                    Q('count(up{job="devmetrics-processors"})', "configured"),
                ],
            )
        )
        .with_panel(
            stat_panel(
                "Pipeline alerts firing",
                "Alerts on the exporters, processors and project reporting that fire now.",
                [
                    Q(
                        'count(ALERTS{alertstate="firing", alertname=~"DevmetricsExporter.*'
                        '|DevmetricsProcessor.*|DevmetricsProject.*"}) or vector(0)'
                    )
                ],
                steps=((None, "green"), (1, "red")),
                span=8,
            )
        )
        .with_panel(
            bar_panel(
                "Projects by team",
                "Projects reporting per team (team:devmetrics_projects:count).",
                [Q("sort_desc(team:devmetrics_projects:count)", "{{team}}")],
            )
        )
        .with_panel(
            bar_panel(
                "Projects by overall DORA tier",
                "Projects per overall DORA tier over 30 days.",
                [Q("devmetrics:dora_tier_projects:count", "{{tier}}")],
            )
        )
        .with_panel(
            timeseries_panel(
                "Projects reporting, 90 days",
                "Long-term history from VictoriaMetrics.",
                [
                    Q("devmetrics:projects:count", "projects"),
                    Q("team:devmetrics_projects:count", "{{team}}"),
                ],
                span=8,
                long=True,
            )
        )
    )
    board = (
        board.with_row(row("Processors"))
        .with_panel(
            timeseries_panel(
                "Events consumed",
                "Messages consumed per second, per event topic.",
                [
                    Q(
                        f"sum by (topic) (rate(devmetrics_processor_events_consumed_total{RATE}))",
                        "{{topic}}",
                    )
                ],
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Events rejected, by reason",
                "Messages sent to the dead-letter topic per second, per topic and reason.",
                [
                    Q(
                        "sum by (topic, reason) "
                        f"(rate(devmetrics_processor_events_rejected_total{RATE}))",
                        "{{topic}} {{reason}}",
                    )
                ],
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Events applied and duplicates",
                "Events folded into the state, and repeated event ids ignored, per family.",
                [
                    Q(
                        f"sum by (family) (rate(devmetrics_processor_events_applied_total{RATE}))",
                        "applied {{family}}",
                    ),
                    Q(
                        "sum by (family) "
                        f"(rate(devmetrics_processor_events_duplicate_total{RATE}))",
                        "duplicate {{family}}",
                    ),
                ],
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Processor consumer lag",
                "Messages not yet consumed, per event topic.",
                [Q("sum by (topic) (devmetrics_processor_consumer_lag)", "{{topic}}")],
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Freshness: event to state",
                "From an event's arrival in Kafka to the snapshot reflecting it.",
                _quantiles("devmetrics_processor_event_to_state_seconds"),
                unit="s",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Snapshots published",
                "Project state snapshots published per second, and their compute time (p90).",
                [
                    Q(
                        f"sum(rate(devmetrics_processor_snapshots_published_total{RATE}))",
                        "snapshots/s",
                    ),
                    Q(
                        "histogram_quantile(0.9, sum by (le) "
                        f"(rate(devmetrics_processor_snapshot_compute_seconds_bucket{RATE})))",
                        "compute p90 (s)",
                    ),
                ],
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Batch time",
                "Time to fold one batch of events and store its blocks.",
                _quantiles("devmetrics_processor_batch_seconds"),
                unit="s",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Worker state",
                "Projects, snapshots waiting, and cached blocks held per worker.",
                [
                    Q("devmetrics_processor_projects", "projects {{instance}}"),
                    Q("devmetrics_processor_snapshots_pending", "pending {{instance}}"),
                    Q("devmetrics_processor_block_cache_blocks", "cached blocks {{instance}}"),
                ],
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Event rows held",
                "Event rows in the workers' state (31-day retention).",
                [Q("sum by (instance) (devmetrics_processor_state_rows)", "{{instance}}")],
                span=8,
            )
        )
    )
    return (
        board.with_row(row("Exporter shards"))
        .with_panel(
            timeseries_panel(
                "Scrape time",
                "Mean time a shard takes to answer a scrape, its last scrape, and Prometheus' "
                "view of the whole scrape.",
                [
                    Q(
                        "instance:devmetrics_exporter_scrape_duration_seconds:mean5m",
                        "mean {{instance}}",
                    ),
                    Q("devmetrics_exporter_last_scrape_duration_seconds", "last {{instance}}"),
                    Q(
                        'scrape_duration_seconds{job="devmetrics-exporters"}',
                        "prometheus {{instance}}",
                    ),
                ],
                unit="s",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Scrape size",
                "Bytes sent per scrape (after gzip), mean over the interval.",
                [
                    Q(
                        f"rate(devmetrics_exporter_scrape_size_bytes_sum{RATE})"
                        f" / (rate(devmetrics_exporter_scrape_size_bytes_count{RATE}) > 0)",
                        "{{instance}}",
                    )
                ],
                unit="bytes",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Rendering cost",
                "Mean time to render a snapshot's lines since the shard started, and the "
                "last body rebuild.",
                [
                    Q(
                        "devmetrics_exporter_snapshot_render_seconds_sum"
                        " / (devmetrics_exporter_snapshot_render_seconds_count > 0)",
                        "render {{instance}}",
                    ),
                    Q("devmetrics_exporter_last_body_build_seconds", "body build {{instance}}"),
                ],
                unit="s",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Series served and dropped",
                "Project series served, and series left out by the per-project budget.",
                [
                    Q("devmetrics:exporter_series:sum", "served"),
                    Q("sum by (reason) (devmetrics_exporter_series_dropped)", "dropped {{reason}}"),
                    Q('sum(scrape_samples_scraped{job="devmetrics-exporters"})', "scraped samples"),
                ],
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Snapshots applied and records rejected",
                "State records a shard applied, deleted or skipped, per second.",
                [
                    Q(
                        f"sum(rate(devmetrics_exporter_snapshots_applied_total{RATE}))",
                        "applied",
                    ),
                    Q(
                        f"sum(rate(devmetrics_exporter_tombstones_applied_total{RATE}))",
                        "tombstones",
                    ),
                    Q(
                        f"sum by (reason) (rate(devmetrics_exporter_records_rejected_total{RATE}))",
                        "rejected {{reason}}",
                    ),
                ],
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Exporter consumer lag",
                "State-topic records the shards have not read yet.",
                [
                    Q("devmetrics:exporter_consumer_lag:sum", "all shards"),
                    Q("sum by (instance) (devmetrics_exporter_consumer_lag)", "{{instance}}"),
                ],
                span=8,
            )
        )
        .with_panel(
            table_panel(
                "Shards",
                "Each shard's index, projects, series and whether it has read its partitions.",
                [
                    (
                        "shard",
                        Q("max by (instance, shard, shards) (devmetrics_exporter_shard_info)"),
                    ),
                    ("projects", Q("max by (instance) (devmetrics_exporter_projects)")),
                    ("series", Q("max by (instance) (devmetrics_exporter_series)")),
                    ("caught up", Q("max by (instance) (devmetrics_exporter_caught_up)")),
                ],
                span=12,
                height=8,
                sort_by="instance",
                descending=False,
            )
        )
        .with_panel(
            table_panel(
                "Pipeline alerts",
                "Alerts on the pipeline and on project reporting, pending or firing.",
                [
                    (
                        "active",
                        Q(
                            'ALERTS{alertname=~"DevmetricsExporter.*|DevmetricsProcessor.*'
                            '|DevmetricsProject.*"}'
                        ),
                    )
                ],
                span=12,
                height=8,
                sort_by="alertname",
                descending=False,
            )
        )
    )
