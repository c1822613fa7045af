"""`devmetrics slo list`: the effective SLOs of a project's services under a definitions file.

Exit codes: 0 listed; 1 the definitions file is unusable (every problem named with its line).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.slo_definitions import SloConfigError, SloDefinitions, load_slo_file


@click.group()
def slo() -> None:
    """SLO definitions: which objective, indicator and period each service gets."""


@slo.command("list")
@click.option("--project", required=True, help="The project id.")
@click.option(
    "--service", "services", multiple=True, required=True, help="A service name (repeatable)."
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    default=None,
    help="SLO definitions file (YAML); without it the built-in defaults.",
)
def list_slos(project: str, services: tuple[str, ...], config: Path | None) -> None:
    """Show the effective SLOs of the project's services, one line each."""
    try:
        definitions = load_slo_file(config) if config else SloDefinitions()
    except SloConfigError as err:
        raise click.ClickException(str(err)) from None
    header = ("service", "slo", "indicator", "objective", "period", "freeze below")
    rows = [header]
    for service in services:
        for d in definitions.effective(project, service):
            indicator: str = d.indicator.kind
            if d.indicator.threshold_s is not None:
                indicator += f" <= {d.indicator.threshold_s:g} s"
            rows.append(
                (
                    service,
                    d.name,
                    indicator,
                    f"{d.objective:g}",
                    d.period.describe(),
                    f"{d.freeze_below:g}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
