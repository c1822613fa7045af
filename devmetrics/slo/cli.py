"""`devmetrics slo import | list`: OpenSLO files into SLO definitions, and the effective SLOs
of a project's services under a definitions file.

Exit codes: 0 done; 1 a file is unusable or holds what cannot be imported (every problem
named with its file and line; nothing is written).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.slo_definitions import SloConfigError, SloDefinition, SloDefinitions, load_slo_file
from devmetrics.slo.openslo import OpenSloError, import_openslo_files


@click.group()
def slo() -> None:
    """SLO definitions: which objective, indicator and period each service gets."""


@slo.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--project",
    default="*",
    show_default=True,
    help="Project (glob) of SLOs without a metadata.labels.project.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Definitions file to add them to (created if missing); without it they are printed.",
)
def import_slos(files: tuple[Path, ...], project: str, output: Path | None) -> None:
    """Import OpenSLO v1 documents (SLO, SLI, Service, DataSource; several per file)."""
    try:
        made = import_openslo_files(files, project)
        base = load_slo_file(output) if output and output.exists() else SloDefinitions()
    except (OpenSloError, SloConfigError) as err:
        raise click.ClickException(f"nothing imported:\n{err}") from None
    merged = base.merged(made)
    _table([(d.services[0], d) for d in made], first="service")
    if output is None:
        click.echo(SloDefinitions(defaults=base.defaults, slos=tuple(made)).to_yaml(), nl=False)
        return
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(merged.to_yaml(), encoding="utf-8")
    tmp.replace(output)
    click.echo(f"{len(made)} SLO definitions added to {output}", err=True)


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
    _table([(service, d) for service in services for d in definitions.effective(project, service)])


def _table(rows: list[tuple[str, SloDefinition]], first: str = "service") -> None:
    """One line per (service, definition), columns aligned."""
    header = (first, "slo", "project", "indicator", "objective", "period", "freeze below")
    lines = [header]
    for service, d in rows:
        indicator: str = d.indicator.kind
        if d.indicator.threshold_s is not None:
            indicator += f" <= {d.indicator.threshold_s:g} s"
        lines.append(
            (
                service,
                d.name,
                ",".join(d.projects),
                indicator,
                f"{d.objective:g}",
                d.period.describe(),
                f"{d.freeze_below:g}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
