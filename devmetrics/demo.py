"""`devmetrics demo`: the local real stack and the pipeline on it, then where to look."""

from __future__ import annotations

import sys

import click

from devmetrics.settings import Settings
from devmetrics.stack import Stack, StackError


def _echo(msg: str) -> None:
    click.echo(f"demo: {msg}", err=True)


@click.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Bring the stack up and show where to look."""
    stack = Stack(settings, progress=_echo)
    try:
        stack.up()
    except StackError as exc:
        click.echo(f"devmetrics demo: {exc}", err=True)
        sys.exit(1)
    prom = stack.component("prometheus").endpoint.url
    click.echo("\nThe local stack is up:")
    click.echo(f"  Kafka            {stack.component('kafka').endpoint.address}")
    click.echo(f"  Prometheus       {prom}/classic/graph  (targets: {prom}/classic/targets)")
    click.echo(f"  Alertmanager     {stack.component('alertmanager').endpoint.url}")
    click.echo(f"  VictoriaMetrics  {stack.component('victoriametrics').endpoint.url}")
    click.echo("Stop it with: devmetrics stack down")
