"""`devmetrics report`: a report of the fleet, a team or a project over a period, read from
VictoriaMetrics (or one Prometheus server), written as HTML, PNG or Markdown.

Exit codes: 0 written; 1 a usage mistake (an unknown project, a bad period); 2 the store
cannot be reached or refuses the login (the message names the endpoint).
"""

from __future__ import annotations

import math
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from core.errors import UserError
from core.security.web import VM_USER
from core.settings import Settings
from devmetrics.query import PromClient, QueryError
from devmetrics.report.collect import DORA_WINDOWS, PROCESS_WINDOWS, Collector
from devmetrics.report.model import Period, Report, Scope, parse_duration
from devmetrics.report.render import markdown, write
from devmetrics.stack import Stack

SOURCES = ("victoriametrics", "prometheus")
FLEET = Scope("fleet")


def _echo(msg: str) -> None:
    click.echo(f"report: {msg}", err=True)


def parse_time(text: str | None) -> float:
    """Unix seconds of ``--at``: Unix seconds or an ISO 8601 time with its offset; now
    when not given."""
    if text is None:
        return time.time()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise UserError(f"--at {text!r} is not a time")
        return seconds
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--at {text!r} is neither Unix seconds nor an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise UserError(f"--at {text!r} has no UTC offset (add Z or +00:00)")
    return parsed.timestamp()


def store_for(
    settings: Settings, source: str, url: str | None
) -> tuple[PromClient, str, dict[str, str]]:
    """The query client of ``source`` (the local stack's endpoint unless ``url`` is given),
    how the report names it, and the parameters every query carries."""
    stack = Stack(settings)
    if source == "victoriametrics":
        endpoint = url or stack.component("victoriametrics").endpoint.url
        # VictoriaMetrics hides the newest 30 s of samples unless asked not to, and moves a
        # range query's start and end to multiples of its step for its cache unless told not
        # to cache (the last point could then miss the end of the period by up to a step).
        return (
            PromClient(settings, endpoint, user=VM_USER),
            f"VictoriaMetrics {endpoint}",
            {"latency_offset": "1s", "nocache": "1"},
        )
    endpoint = url or stack.prometheus_servers()[0].endpoint.url
    return PromClient(settings, endpoint), f"Prometheus {endpoint}", {}


def build_report(
    settings: Settings,
    scope: Scope,
    period_s: float,
    end: float,
    source: str = "victoriametrics",
    url: str | None = None,
    windows: tuple[str | None, str | None] = (None, None),
) -> Report:
    """Read one report's figures; QueryError when the store cannot answer. ``windows``: the
    DORA and the process window, each by the period when None."""
    store, name, params = store_for(settings, source, url)
    period = Period(end - period_s, end)
    return Collector(store, name, scope, period, _echo, *windows, **params).collect()


@click.command()
@click.option("--project", help="Report on this project.")
@click.option("--team", help="Report on this team's projects.")
@click.option("--period", default="30d", show_default=True, help="How far back: 30d, 12h, 2w.")
@click.option("--at", "at", help="End of the period: Unix seconds or ISO 8601 (default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "png", "markdown"]),
    default="html",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="File (html, markdown) or folder (png); markdown goes to standard output without it.",
)
@click.option(
    "--source",
    type=click.Choice(SOURCES),
    default="victoriametrics",
    show_default=True,
    help="VictoriaMetrics holds every project and its history; one Prometheus server holds "
    "its shards' projects over its own retention.",
)
@click.option("--url", help="The store's URL, instead of the local stack's.")
@click.option(
    "--dora-window",
    type=click.Choice([name for name, _s in DORA_WINDOWS]),
    help="DORA window of the figures [default: the largest that fits in the period].",
)
@click.option(
    "--process-window",
    type=click.Choice([name for name, _s in PROCESS_WINDOWS]),
    help="Window of the AI and process figures [default: the largest that fits].",
)
@click.pass_obj
def report(
    settings: Settings,
    project: str | None,
    team: str | None,
    period: str,
    at: str | None,
    fmt: str,
    out: Path | None,
    source: str,
    url: str | None,
    dora_window: str | None,
    process_window: str | None,
) -> None:
    """Write a report of the fleet (default), a TEAM or a PROJECT over PERIOD: DORA figures
    and tiers with their trends, SLO error budgets and the burn alerts that fired, AI agents
    next to people, and the best and worst projects."""
    if project and team:
        raise click.UsageError("give --project or --team, not both")
    scope = (
        Scope("project", project) if project else Scope("team", team) if team else Scope("fleet")
    )
    try:
        result = build_report(
            settings,
            scope,
            parse_duration(period),
            parse_time(at),
            source,
            url,
            (dora_window, process_window),
        )
    except QueryError as exc:
        click.echo(f"devmetrics report: {exc}", err=True)
        sys.exit(2)
    written = write(result, fmt, out)
    if fmt == "markdown" and out is None:
        click.echo(markdown(result), nl=False)
    for path in written:
        click.echo(str(path))
