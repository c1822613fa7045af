"""System health: the pipeline watching itself, and the fleet at a glance."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards.kit import (
    Q,
    Reads,
    bar_panel,
    dashboard,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)

UID = "devmetrics-health"
RATE = "[$__rate_interval]"
# Every project once, from the info metric (the fleet panels read VictoriaMetrics).
PROJECTS = "count(devmetrics_project_info)"
BY_TEAM = "count by (team) (devmetrics_project_info)"


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
                "Projects with a served state: one devmetrics_project_info each.",
                [Q(PROJECTS)],
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Oldest state",
                "Age of the oldest project state: how far behind the processors are.",
                [Q("max(time() - devmetrics_state_as_of_timestamp_seconds)")],
                unit="s",
                steps=((None, "green"), (300, "yellow"), (900, "red")),
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Exporter shards up",
                "Shards Prometheus scrapes successfully, of those configured (choose "
                "VictoriaMetrics to see the shards of every Prometheus server).",
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
                span=4,
            )
        )
        .with_panel(
            stat_panel(
                "Projects over the service cap",
                "Projects reporting more services than the shards serve per project "
                "(devmetrics_project_services_capped): their quietest services' SLOs have no "
                "series and raise DevmetricsProjectServicesOverCap.",
                [Q("count(devmetrics_project_services_capped > 0) or vector(0)")],
                steps=((None, "green"), (1, "orange")),
                span=4,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Projects by team",
                "Projects reporting per team.",
                [Q(f"sort_desc({BY_TEAM})", "{{team}}")],
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Projects by overall DORA tier",
                "Projects per overall DORA tier over 30 days (4 elite, 3 high, 2 medium, 1 low).",
                [Q('count_values("tier", devmetrics_dora_tier{metric="overall"})', "{{tier}}")],
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Projects reporting, 90 days",
                "Projects reporting, in all and per team.",
                [Q(PROJECTS, "projects"), Q(BY_TEAM, "{{team}}")],
                span=8,
                reads=Reads.HISTORY,
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
    board = (
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
                "Project series served, series of the snapshots left out (above the service "
                "cap, unknown family), and projects served with fewer services than they report.",
                [
                    Q("devmetrics:exporter_series:sum", "served"),
                    Q("sum by (reason) (devmetrics_exporter_series_dropped)", "dropped {{reason}}"),
                    Q("sum(devmetrics_exporter_projects_capped)", "projects capped"),
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
    return _receiver(board)


def _receiver(board: db.Dashboard) -> db.Dashboard:
    """The webhook receivers (`devmetrics receive`): what comes in, what is refused, how fast."""
    return (
        board.with_row(row("Webhook receiver"))
        .with_panel(
            timeseries_panel(
                "Webhook requests",
                "Requests answered per second, by source and HTTP status.",
                [
                    Q(
                        f"sum by (source, status) (rate(devmetrics_receiver_requests_total{RATE}))",
                        "{{source}} {{status}}",
                    )
                ],
                unit="reqps",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Events mapped",
                "Events published from webhooks per second, by source, family and type.",
                [
                    Q(
                        "sum by (source, family, type) "
                        f"(rate(devmetrics_receiver_events_total{RATE}))",
                        "{{source}} {{family}} {{type}}",
                    )
                ],
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Webhooks refused and ignored",
                "Refused (bad signature, malformed, unmappable, too large) and ignored webhooks "
                "per second, by source and reason; dead letters among them.",
                [
                    Q(
                        f"sum by (source, reason) (rate(devmetrics_receiver_rejected_total{RATE}))",
                        "refused {{source}} {{reason}}",
                    ),
                    Q(
                        f"sum by (source, reason) (rate(devmetrics_receiver_ignored_total{RATE}))",
                        "ignored {{source}} {{reason}}",
                    ),
                    Q(
                        f"sum by (source) (rate(devmetrics_receiver_dead_letters_total{RATE}))",
                        "dead-lettered {{source}}",
                    ),
                ],
                unit="ops",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Publish latency",
                "From producing a webhook's events to the broker's last acknowledgement.",
                _quantiles("devmetrics_receiver_publish_seconds"),
                unit="s",
                span=8,
            )
        )
    )
