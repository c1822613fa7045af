"""`devmetrics stack up | down | status`."""

from __future__ import annotations

import sys

import click

from core.settings import Settings
from devmetrics.stack.errors import StackError
from devmetrics.stack.launcher import Stack


def _echo(msg: str) -> None:
    click.echo(f"stack: {msg}", err=True)


@click.group()
def stack() -> None:
    """The local real stack: Kafka, Prometheus, Alertmanager, VictoriaMetrics."""


def with_prometheus_servers(settings: Settings, servers: int | None) -> Settings:
    """The settings with ``servers`` Prometheus servers, when given on the command line."""
    if servers is None:
        return settings
    stack_settings = settings.stack.model_copy(update={"prometheus_servers": servers})
    return settings.model_copy(update={"stack": stack_settings})


PROMETHEUS_OPTION = click.option(
    "--prometheus",
    "prometheus_servers",
    type=click.IntRange(1, 16),
    default=None,
    help="Prometheus servers, each scraping a disjoint set of exporter shards "
    "[default: the stack settings' prometheus_servers, 1].",
)


@stack.command()
@PROMETHEUS_OPTION
@click.option(
    "--brokers",
    type=click.IntRange(1, 5),
    default=None,
    help="Kafka nodes (combined KRaft controller and broker); 3 replicates every topic "
    "three times with min.insync.replicas=2 [default: the stack settings' kafka_brokers, 1].",
)
@click.pass_obj
def up(settings: Settings, prometheus_servers: int | None, brokers: int | None) -> None:
    """Start the stack (idempotent) and wait until every part is healthy."""
    settings = with_prometheus_servers(settings, prometheus_servers)
    if brokers is not None:
        stack_settings = settings.stack.model_copy(update={"kafka_brokers": brokers})
        settings = settings.model_copy(update={"stack": stack_settings})
    try:
        statuses = Stack(settings, progress=_echo).up()
    except StackError as exc:
        click.echo(f"devmetrics stack up: {exc}", err=True)
        sys.exit(1)
    _print(statuses)


@stack.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Print each part, its endpoint and health; exit 1 if any part is not healthy."""
    statuses = Stack(settings, progress=_echo).status()
    _print(statuses)
    if not all(s.healthy for s in statuses):
        sys.exit(1)


@stack.command()
@click.option(
    "--purge",
    is_flag=True,
    help="Also delete the stack's data (broker logs, stores, Prometheus and VictoriaMetrics "
    "data), keeping the security folder.",
)
@click.pass_obj
def down(settings: Settings, purge: bool) -> None:
    """Stop the processes that `up` started, and nothing else."""
    stack = Stack(settings, progress=_echo)
    stopped = stack.down()
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    if purge:
        stack.purge()


def _print(statuses: list) -> None:
    click.echo(f"{'component':<16} {'state':<10} {'pid':>8}  endpoint")
    for s in statuses:
        click.echo(f"{s.name:<16} {s.state:<10} {s.pid or '-':>8}  {s.endpoint}")
