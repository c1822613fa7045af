"""The `devmetrics` command: wires settings to the subcommands and holds no logic."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from core.errors import UserError
from core.settings import ConfigError, load_settings

# Subcommands live beside the code they run; they are imported only when called, so
# `devmetrics stack status` does not pay for importing faust.
_LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "stack": ("devmetrics.stack.cli", "stack"),
    "security": ("devmetrics.security.cli", "security"),
    "demo": ("devmetrics.demo", "demo"),
    "simulate": ("producers.simulator.cli", "simulate"),
    "emit": ("producers.cli", "emit"),
    "process": ("processors.cli", "process"),
    "export": ("exporters.cli", "export"),
    "receive": ("producers.receiver.cli", "receive"),
    "report": ("devmetrics.report.cli", "report"),
    "slo": ("devmetrics.slo.cli", "slo"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command: click.Command = getattr(module, target[1])
        return command


@click.group(cls=_LazyGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """devmetrics: live DORA, SLO and development-process metrics."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = settings


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"devmetrics: {exc}", err=True)
        sys.exit(2)
    except UserError as exc:
        command = " ".join(a for a in sys.argv[1:2] if not a.startswith("-"))
        click.echo(f"devmetrics{' ' + command if command else ''}: {exc}", err=True)
        sys.exit(1)
