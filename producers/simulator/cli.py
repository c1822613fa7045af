"""`devmetrics simulate`: wires options to the generator, the publisher and the truth file."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from core.settings import Settings
from producers.simulator.plan import Scenarios, describe_plan, execute, plan_run
from producers.simulator.runner import SystemClock
from producers.simulator.scenarios import ScenarioError, describe

log = logging.getLogger(__name__)


@click.command("simulate")
@click.option("--projects", default=1000, show_default=True, type=click.IntRange(1, 99_999))
@click.option(
    "--days",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 31, min_open=True),
    help="Backfill span of event time ending at --end.",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--end",
    "end",
    default="now",
    show_default=True,
    help="T, the end of the backfill: 'now' or ISO 8601 with a zone (floored to the minute).",
)
@click.option(
    "--mode", type=click.Choice(["backfill", "live"]), default="backfill", show_default=True
)
@click.option(
    "--rate",
    "--speed",
    "rate",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Multiplies every arrival rate and the request traffic.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Live mode: seconds to run (default: until interrupted).",
)
@click.option(
    "--sli-interval",
    type=click.IntRange(1, 3600),
    default=None,
    help="Seconds per SLI sample [default: 300 backfill, 10 live].",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="NAME:PROJECTS[:START..END]",
    help="Apply a scenario, e.g. error_spike:proj-0003,proj-0010:-2h..now (repeatable).",
)
@click.option(
    "--scenario-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file with a 'scenarios' list.",
)
@click.option(
    "--no-default-scenarios",
    is_flag=True,
    help="Do not give a handful of projects each problem scenario.",
)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the expected metrics (truth file) here.",
)
@click.option(
    "--slo-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SLO definitions the truth computes the SLOs under (default: the processor's "
    "`slo_file` setting, else the built-in SLOs).",
)
@click.option("--no-kafka", is_flag=True, help="Generate (and write the truth) without producing.")
@click.option("--dry-run", is_flag=True, help="Print the plan and exit.")
@click.pass_context
def simulate(
    ctx: click.Context,
    projects: int,
    days: float,
    seed: int,
    end: str,
    mode: str,
    rate: float,
    duration: float | None,
    sli_interval: int | None,
    scenarios: tuple[str, ...],
    scenario_file: Path | None,
    no_default_scenarios: bool,
    truth_path: Path | None,
    slo_file: Path | None,
    no_kafka: bool,
    dry_run: bool,
) -> None:
    """Simulate projects' development events (backfill or live) into Kafka."""
    settings: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    if slo_file is not None:
        processor = settings.processor.model_copy(update={"slo_file": slo_file})
        settings = settings.model_copy(update={"processor": processor})
    clock = SystemClock()
    is_live = mode == "live"
    try:
        plan = plan_run(
            projects,
            days,
            seed,
            end,
            is_live,
            rate,
            sli_interval,
            clock.now_ms(),
            Scenarios(scenarios, scenario_file, not no_default_scenarios),
        )
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from exc
    if dry_run:
        click.echo(describe_plan(plan, mode, settings, no_kafka, duration))
        click.echo(describe(plan.scenarios))
        return

    execute(plan, settings, is_live, duration, truth_path, no_kafka)
