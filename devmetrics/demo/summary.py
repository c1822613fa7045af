"""The demo's closing summary: how many projects reached the fleet store, the DORA tier mix,
the firing alerts, and where to look (with the scheme the stack serves: https when secured)."""

from __future__ import annotations

import click

from devmetrics.demo.pipeline import Pipeline
from devmetrics.query import PromClient
from devmetrics.stack import Stack

TIERS = ((4, "elite"), (3, "high"), (2, "medium"), (1, "low"))


def print_summary(
    stack: Stack, fleet: PromClient, projects: int, seen: float, pipeline: Pipeline
) -> None:
    overall = {
        name: fleet.scalar(
            f'count(devmetrics_dora_tier{{metric="overall"}} == {v})', latency_offset="1s"
        )
        for v, name in TIERS
    }
    # Tiers are withheld while a project's history covers less than a day (docs/metrics.md).
    withheld = fleet.scalar(
        'count(devmetrics_dora_history_coverage_ratio{window="1d"} < 1)', latency_offset="1s"
    )
    alerts = fleet.query(
        'count by (alertname, tier) (ALERTS{alertstate="firing"})', latency_offset="1s"
    )
    click.echo("")
    click.echo(f"devmetrics is running: VictoriaMetrics sees {seen:.0f} of {projects} projects.")
    click.echo(
        "  DORA overall tier: "
        + ", ".join(f"{name} {int(n or 0)}" for name, n in overall.items())
        + f"; withheld (history under a day) {int(withheld or 0)}"
    )
    if alerts:
        firing = ", ".join(
            f"{a['metric'].get('alertname')}[{a['metric'].get('tier', '-')}] "
            f"{float(a['value'][1]):.0f}"
            for a in alerts
        )
        click.echo(f"  firing alerts: {firing}")
    else:
        click.echo("  firing alerts: none yet (burn-rate alerts need a few minutes of data)")
    _where_to_look(stack, pipeline)


def _where_to_look(stack: Stack, pipeline: Pipeline) -> None:
    settings = stack.settings
    # The pipeline's own /metrics are served over TLS (mutual for the processors) when secured.
    scheme = "https" if settings.security.enabled else "http"
    host = settings.stack.host
    click.echo("")
    click.echo("Where to look:")
    servers = stack.prometheus_servers()
    shards = len(pipeline.exporter_ports)
    for server in servers:
        url = server.endpoint.url
        held = ", ".join(str(i) for i in range(shards) if i % len(servers) == server.index)
        click.echo(
            f"  {server.name:<16} {url}/classic/graph   targets: {url}/classic/targets"
            f"   (shards {held})"
        )
    click.echo(f"  Alertmanager     {stack.component('alertmanager').endpoint.url}/#/alerts")
    click.echo(
        f"  VictoriaMetrics  {stack.component('victoriametrics').endpoint.url}"
        "/api/v1/query?query=devmetrics_dora_deployments"
    )
    for i, port in enumerate(pipeline.exporter_ports):
        click.echo(f"  exporter shard {i} {scheme}://{host}:{port}/metrics")
    for i, port in enumerate(pipeline.processor_ports):
        click.echo(f"  processor {i}      {scheme}://{host}:{port}/metrics")
    click.echo(
        f"  webhook receiver {scheme}://{settings.receiver.host}:{pipeline.receiver_port}"
        "/webhooks/github|gitlab|pagerduty|cdevents  (docs/sources.md)"
    )
    if settings.security.enabled:
        click.echo(
            f"  logins           user operator (VictoriaMetrics: victoriametrics), password "
            f"in {settings.security.dir / 'secrets' / 'http-<user>'}; CA "
            f"{settings.security.dir / 'ca.crt'}"
        )
    click.echo(f"  logs             {settings.stack.home / 'logs'}")
    click.echo("Stop everything with: devmetrics stack down")
