"""`devmetrics demo`: the local real stack, the pipeline on it, a simulation, and where to look.

The demo is a composition root: it starts processes that users could start by hand
(`devmetrics process`, `devmetrics export`, `devmetrics simulate`) and holds no metric logic.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from core.settings import Settings
from devmetrics.stack import Stack, StackError
from devmetrics.stack.cli import PROMETHEUS_OPTION, with_prometheus_servers


def _echo(msg: str) -> None:
    click.echo(f"demo: {msg}", err=True)


def _role_env(settings: Settings, role: str) -> dict[str, str]:
    """A pipeline process's Kafka identity: its role's credentials when the stack is secured."""
    if not settings.security.enabled:
        return {}
    from core.security.material import Material, role_env

    return role_env(Material(settings.security.dir), role)


def _start(stack: Stack, name: str, args: list[str], role: str) -> None:
    proc = stack.pipeline_process(name)
    if proc.running():
        _echo(f"{name}: already running")
        return
    proc.start([sys.executable, "-m", "devmetrics", *args], env=_role_env(stack.settings, role))
    _echo(f"{name}: started (log {proc.log_file})")


class _Prometheus:
    """Instant queries, over HTTPS with the operator's login when the stack is secured."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {}
        self.context: ssl.SSLContext | None = None
        if settings.security.enabled:
            from core.security.material import Material
            from core.security.tls import basic_auth_header, client_context

            material = Material(settings.security.dir)
            self.context = client_context(material.ca_file)
            self.headers["Authorization"] = basic_auth_header(
                "operator", material.secret("http", "operator")
            )

    def query(self, promql: str, **params: str) -> list[dict[str, Any]]:
        qs = urllib.parse.urlencode({"query": promql, **params})
        request = urllib.request.Request(f"{self.url}/api/v1/query?{qs}", headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as resp:
                body = json.loads(resp.read())
        except OSError:
            return []
        return list(body.get("data", {}).get("result", []))

    def scalar(self, promql: str, **params: str) -> float | None:
        result = self.query(promql, **params)
        return float(result[0]["value"][1]) if result else None


@click.command()
@click.option("--projects", default=1000, show_default=True, type=click.IntRange(1, 99999))
@click.option(
    "--days",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.01, 31),
    help="Days of event time backfilled before live simulation starts.",
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 12), help="Processor workers."
)
@click.option(
    "--shards", default=2, show_default=True, type=click.IntRange(1, 12), help="Exporter shards."
)
@PROMETHEUS_OPTION
@click.option(
    "--live/--no-live",
    default=True,
    show_default=True,
    help="Keep a live simulation running after the backfill.",
)
@click.option(
    "--wait",
    "wait_s",
    default=600.0,
    show_default=True,
    help="Seconds to wait for Prometheus to see every project.",
)
@click.pass_obj
def demo(
    settings: Settings,
    projects: int,
    days: float,
    seed: int,
    workers: int,
    shards: int,
    prometheus_servers: int | None,
    live: bool,
    wait_s: float,
) -> None:
    """Bring the stack and pipeline up, backfill PROJECTS projects, go live, show where to look."""
    settings = with_prometheus_servers(settings, prometheus_servers)
    if shards < settings.stack.prometheus_servers:
        raise click.UsageError(
            f"--shards {shards} leaves Prometheus servers without a shard: give at least "
            f"{settings.stack.prometheus_servers} (one per Prometheus server)"
        )
    stack = Stack(settings, progress=_echo)
    try:
        stack.up()
    except StackError as exc:
        click.echo(f"devmetrics demo: {exc}", err=True)
        sys.exit(1)
    home = settings.stack.home
    targets: Path = stack.prometheus_servers()[0].targets_dir
    # Fleet-wide figures come from VictoriaMetrics: each Prometheus holds only its shards.
    fleet = _Prometheus(settings, stack.component("victoriametrics").endpoint.url)

    metrics_ports = []
    for i in range(workers):
        port = 9300 + i
        metrics_ports.append(port)
        _start(
            stack,
            f"processor-{i}",
            [
                "process",
                "--data-dir",
                str(home / f"processor-{i}"),
                "--metrics-port",
                str(port),
                "--web-port",
                "0",
            ],
            role="processor",
        )
    (targets / "processors-demo.json").write_text(
        json.dumps([{"targets": [f"127.0.0.1:{p}" for p in metrics_ports]}])
    )
    for i in range(shards):
        _start(
            stack,
            f"exporter-{i}",
            [
                "export",
                "--shard",
                str(i),
                "--shards",
                str(shards),
                "--port",
                str(9400 + i),
                "--sd-file",
                str(targets / f"exporters-{i}.json"),
            ],
            role="exporter",
        )

    _start(
        stack,
        "receiver",
        ["receive", "--sd-file", str(targets / "receivers-0.json")],
        role="producer",
    )

    truth = home / "demo-truth.json"
    _echo(f"backfilling {projects} projects x {days:g} days (truth file {truth})")
    # In the foreground: its progress line (events/s, acknowledged) is the demo's.
    backfill = subprocess.run(
        [
            sys.executable,
            "-m",
            "devmetrics",
            "simulate",
            "--projects",
            str(projects),
            "--days",
            str(days),
            "--seed",
            str(seed),
            "--truth",
            str(truth),
        ],
        env={**os.environ, **_role_env(settings, "producer")},
        check=False,
    )
    if backfill.returncode != 0:
        click.echo(f"devmetrics demo: the backfill failed (exit {backfill.returncode})", err=True)
        sys.exit(1)
    if live:
        _start(
            stack,
            "simulate-live",
            [
                "simulate",
                "--mode",
                "live",
                "--projects",
                str(projects),
                "--seed",
                str(seed + 1),
                "--no-default-scenarios",
            ],
            role="producer",
        )

    _echo(f"waiting for VictoriaMetrics to see {projects} projects (from every Prometheus)")
    seen_q = "count(count by (project) (devmetrics_state_as_of_timestamp_seconds))"
    deadline = time.monotonic() + wait_s
    seen = 0.0
    while time.monotonic() < deadline:
        seen = fleet.scalar(seen_q, latency_offset="1s") or 0.0
        if seen >= projects:
            break
        _echo(f"VictoriaMetrics sees {seen:.0f} of {projects} projects")
        time.sleep(10)
    _summary(stack, fleet, projects, seen, shards, metrics_ports)


def _summary(
    stack: Stack,
    fleet: _Prometheus,
    projects: int,
    seen: float,
    shards: int,
    metrics_ports: list[int],
) -> None:
    overall = {
        name: fleet.scalar(
            f'count(devmetrics_dora_tier{{metric="overall"}} == {v})', latency_offset="1s"
        )
        for v, name in ((4, "elite"), (3, "high"), (2, "medium"), (1, "low"))
    }
    alerts = fleet.query(
        'count by (alertname, tier) (ALERTS{alertstate="firing"})', latency_offset="1s"
    )
    am = stack.component("alertmanager").endpoint.url
    click.echo("")
    click.echo(f"devmetrics is running: VictoriaMetrics sees {seen:.0f} of {projects} projects.")
    click.echo(
        "  DORA overall tier: " + ", ".join(f"{name} {int(n or 0)}" for name, n in overall.items())
    )
    if alerts:
        click.echo(
            "  firing alerts: "
            + ", ".join(
                f"{a['metric'].get('alertname')}[{a['metric'].get('tier', '-')}] "
                f"{float(a['value'][1]):.0f}"
                for a in alerts
            )
        )
    else:
        click.echo("  firing alerts: none yet (burn-rate alerts need a few minutes of data)")
    click.echo("")
    click.echo("Where to look:")
    servers = stack.prometheus_servers()
    for server in servers:
        url = server.endpoint.url
        held = ", ".join(str(i) for i in range(shards) if i % len(servers) == server.index)
        click.echo(
            f"  {server.name:<16} {url}/classic/graph   targets: {url}/classic/targets"
            f"   (shards {held})"
        )
    click.echo(f"  Alertmanager     {am}/#/alerts")
    click.echo(
        f"  VictoriaMetrics  {stack.component('victoriametrics').endpoint.url}"
        "/api/v1/query?query=devmetrics_dora_deployments"
    )
    for i in range(shards):
        click.echo(f"  exporter shard {i} http://127.0.0.1:{9400 + i}/metrics")
    for i, port in enumerate(metrics_ports):
        click.echo(f"  processor {i}      http://127.0.0.1:{port}/metrics")
    receiver = stack.settings.receiver
    click.echo(
        f"  webhook receiver http://{receiver.host}:{receiver.port}/webhooks/"
        "github|gitlab|pagerduty|cdevents  (docs/sources.md)"
    )
    click.echo(f"  logs             {stack.settings.stack.home / 'logs'}")
    click.echo("Stop everything with: devmetrics stack down")
