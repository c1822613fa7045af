"""`devmetrics demo`: the local real stack, the pipeline on it, a simulation, and where to look.

The demo is a composition root: it starts processes that users could start by hand
(`devmetrics process`, `devmetrics export`, `devmetrics simulate`) and holds no metric logic.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click

from core.security.web import VM_USER
from core.settings import Settings
from devmetrics.demo.pipeline import PipelineStarter, process_env
from devmetrics.demo.summary import print_summary
from devmetrics.query import PromClient, QueryError
from devmetrics.report.cli import build_report
from devmetrics.report.model import Scope
from devmetrics.report.render import write
from devmetrics.stack import Stack, StackError
from devmetrics.stack.cli import PROMETHEUS_OPTION, with_prometheus_servers

SEEN_QUERY = "count(count by (project) (devmetrics_state_as_of_timestamp_seconds))"


def _echo(msg: str) -> None:
    click.echo(f"demo: {msg}", err=True)


def _fail(msg: str) -> None:
    click.echo(f"devmetrics demo: {msg}", err=True)
    sys.exit(1)


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
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 12))
@click.option("--shards", default=2, show_default=True, type=click.IntRange(1, 12))
@PROMETHEUS_OPTION
@click.option("--live/--no-live", default=True, show_default=True, help="Keep simulating live.")
@click.option("--wait", "wait_s", default=600.0, show_default=True, help="Seconds to wait.")
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
    """Bring the stack and pipeline up, backfill PROJECTS projects, go live, show where to look.

    WORKERS processor workers, SHARDS exporter shards; it waits up to WAIT seconds for
    VictoriaMetrics to see every project (from every Prometheus server)."""
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
        _fail(str(exc))
    # Fleet-wide figures come from VictoriaMetrics: each Prometheus holds only its shards.
    fleet = PromClient(settings, stack.component("victoriametrics").endpoint.url, user=VM_USER)
    try:  # a refused login is known now, not after the backfill
        fleet.query("vector(1)")
    except QueryError as exc:
        if exc.refused:
            _fail(str(exc))
    starter = PipelineStarter(stack, _echo)
    pipeline = starter.pipeline(workers, shards, stack.prometheus_servers()[0].targets_dir)

    truth = settings.stack.home / "demo-truth.json"
    _echo(f"backfilling {projects} projects x {days:g} days (truth file {truth})")
    simulate = [sys.executable, "-m", "devmetrics", "simulate", "--projects", str(projects)]
    # In the foreground: its progress line (events/s, acknowledged) is the demo's.
    backfill = subprocess.run(
        [*simulate, "--days", str(days), "--seed", str(seed), "--truth", str(truth)],
        env={**os.environ, **process_env(stack, "producer")},
        check=False,
    )
    if backfill.returncode != 0:
        _fail(f"the backfill failed (exit {backfill.returncode})")
    for exited in starter.exited():
        _fail(exited)
    if live:
        live_args = ["--mode", "live", "--projects", str(projects), "--seed", str(seed + 1)]
        starter.start(
            "simulate-live", ["simulate", *live_args, "--no-default-scenarios"], "producer"
        )

    seen = _wait_for_projects(fleet, projects, wait_s)
    try:
        print_summary(stack, fleet, projects, seen, pipeline)
        written = _fleet_report(settings)
    except QueryError as exc:
        _fail(str(exc))
    click.echo(f"Fleet report: {written}")


def _fleet_report(settings: Settings) -> Path:
    """The fleet report (`devmetrics report`) of the last hour, written under the stack
    home: the stores hold the demo's minutes, and its figures are the 30d and 7d windows of
    the state, as in the summary."""
    _echo("writing the fleet report of the last hour")
    report = build_report(settings, Scope("fleet"), 3600.0, time.time(), windows=("30d", "7d"))
    (path,) = write(report, "html", settings.stack.home / "reports" / "fleet.html")
    return path


def _wait_for_projects(fleet: PromClient, projects: int, wait_s: float) -> float:
    """Projects VictoriaMetrics sees, polled until all are there or the wait runs out; a
    refused login stops the demo at once with the reason."""
    _echo(f"waiting for VictoriaMetrics to see {projects} projects (from every Prometheus)")
    deadline = time.monotonic() + wait_s
    seen = 0.0
    while time.monotonic() < deadline:
        try:
            seen = fleet.scalar(SEEN_QUERY, latency_offset="1s") or 0.0
        except QueryError as exc:
            if exc.refused:
                _fail(str(exc))
            _echo(f"VictoriaMetrics not answering yet: {exc}")
        else:
            if seen >= projects:
                break
            _echo(f"VictoriaMetrics sees {seen:.0f} of {projects} projects")
        time.sleep(10)
    return seen
