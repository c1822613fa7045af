"""python -m dashboards [--check] [--out DIR]: regenerate or check the dashboards."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dashboards.render import OUTPUT_DIR, stale_files, write_all
from dashboards.validate import validate_all


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=OUTPUT_DIR)
@click.option("--check", is_flag=True, help="Exit 1 if a committed dashboard is out of date.")
def main(out: Path, check: bool) -> None:
    """Generate the Grafana dashboards into OUT (infra/grafana/dashboards by default)."""
    problems = validate_all()
    if problems:
        raise click.ClickException("invalid dashboards:\n" + "\n".join(problems))
    if check:
        stale = stale_files(out)
        if stale:
            click.echo(f"out of date in {out}: {', '.join(stale)}", err=True)
            sys.exit(1)
        click.echo(f"dashboards in {out} are up to date")
        return
    for path in write_all(out):
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
