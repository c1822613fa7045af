"""`devmetrics stack up | down | status`."""

from __future__ import annotations

import sys

import click

from devmetrics.settings import Settings
from devmetrics.stack.errors import StackError
from devmetrics.stack.launcher import Stack


def _echo(msg: str) -> None:
    click.echo(f"stack: {msg}", err=True)


@click.group()
def stack() -> None:
    """The local real stack: Kafka, Prometheus, Alertmanager, VictoriaMetrics."""


@stack.command()
@click.pass_obj
def up(settings: Settings) -> None:
    """Start the stack (idempotent) and wait until every part is healthy."""
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
@click.pass_obj
def down(settings: Settings) -> None:
    """Stop the processes that `up` started, and nothing else."""
    stopped = Stack(settings, progress=_echo).down()
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


def _print(statuses: list) -> None:
    click.echo(f"{'component':<16} {'state':<10} {'pid':>8}  endpoint")
    for s in statuses:
        click.echo(f"{s.name:<16} {s.state:<10} {s.pid or '-':>8}  {s.endpoint}")
