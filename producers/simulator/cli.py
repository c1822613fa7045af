"""`devmetrics simulate`: wires options to the generator, the publisher and the truth file."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from core.settings import Settings
from producers.simulator.model import MINUTE_MS, project_id_of
from producers.simulator.runner import (
    LiveOptions,
    Progress,
    RunPlan,
    RunResult,
    SystemClock,
    backfill,
    live,
    live_truth,
)
from producers.simulator.scenarios import (
    ScenarioError,
    ScenarioRequest,
    default_requests,
    describe,
    load_scenario_file,
    parse_scenario,
    parse_time,
    resolve_requests,
)
from producers.simulator.truth import TruthFile

log = logging.getLogger(__name__)


def _end_time(text: str, now_ms: int) -> int:
    """T: 'now' or ISO 8601 with a zone, floored to the minute."""
    try:
        value = parse_time(text, now_ms) if text != "now" else now_ms
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--end") from exc
    return value // MINUTE_MS * MINUTE_MS


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
    no_kafka: bool,
    dry_run: bool,
) -> None:
    """Simulate projects' development events (backfill or live) into Kafka."""
    settings: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    clock = SystemClock()
    is_live = mode == "live"
    anchor = clock.now_ms() // 1000 * 1000 if is_live else _end_time(end, clock.now_ms())
    try:
        requests: list[ScenarioRequest] = [parse_scenario(s) for s in scenarios]
        if scenario_file is not None:
            requests += load_scenario_file(scenario_file)
        if not no_default_scenarios:
            requests = default_requests(projects, seed) + requests
        ids = [project_id_of(i) for i in range(1, projects + 1)]
        spans = resolve_requests(requests, ids, anchor, forward=is_live)
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from exc
    days = int(days) if days.is_integer() else days
    plan = RunPlan(
        seed=seed,
        n_projects=projects,
        end_ms=anchor,
        days=days,
        sli_interval_s=sli_interval or (10 if is_live else 300),
        scenarios=spans,
        activity=rate,
    )
    if dry_run:
        click.echo(_describe_plan(plan, mode, settings, no_kafka, duration))
        click.echo(describe(spans))
        return

    publisher = None
    if not no_kafka:
        from core.kafka import ensure_topics
        from producers.publisher import Publisher

        ensure_topics(settings.kafka)
        publisher = Publisher(settings.kafka, client_id="devmetrics-simulator")
    progress = Progress(
        sys.stderr,
        total_projects=projects,
        acknowledged=(lambda: publisher.acknowledged) if publisher else None,
    )
    if is_live:
        progress.projects = projects  # every project runs from the start
        result, published = live(
            plan,
            publisher,
            clock,
            LiveOptions(duration_s=duration),
            keep_for_truth=truth_path is not None,
            progress=progress,
        )
        truth = live_truth(plan, result.as_of, published, days) if truth_path else None
    else:
        truth = (
            TruthFile(
                as_of=plan.end_ms,
                seed=seed,
                days=days,
                sli_interval_s=plan.sli_interval_s,
                projects={},
            )
            if truth_path
            else None
        )
        result = backfill(plan, publisher, truth, progress)
    progress.close()
    _finish(result, publisher, truth, truth_path)


def _finish(
    result: RunResult, publisher: object, truth: TruthFile | None, truth_path: Path | None
) -> None:
    from producers.publisher import DeliveryFailed, Publisher

    failed = None
    if isinstance(publisher, Publisher):
        try:
            report = publisher.flush(timeout_s=120.0)
        except DeliveryFailed as exc:
            report = exc.report
            failed = exc
        click.echo(
            f"produced {report.produced} acknowledged {report.acknowledged} failed {report.failed}"
        )
    else:
        click.echo(f"generated {result.total} (not produced: --no-kafka)")
    for family, count in sorted(result.generated.items()):
        click.echo(f"  {family}: {count}")
    if truth is not None and truth_path is not None:
        truth.write(truth_path)
        click.echo(f"truth as of {_iso(truth.as_of)} written to {truth_path}")
    if failed is not None:
        raise click.ClickException(str(failed))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _describe_plan(
    plan: RunPlan, mode: str, settings: Settings, no_kafka: bool, duration: float | None
) -> str:
    target = (
        "nowhere (--no-kafka)"
        if no_kafka
        else (f"{settings.kafka.bootstrap} topics {settings.kafka.topic_prefix}.events.*")
    )
    if mode == "live":
        span = f"live from {_iso(plan.end_ms)} for {duration or 'ever'} s"
    else:
        span = f"({_iso(plan.start_ms)}, {_iso(plan.end_ms)}]"
    return (
        f"simulate {plan.n_projects} projects, seed {plan.seed}, {mode} {span}, "
        f"SLI every {plan.sli_interval_s} s, rate x{plan.activity}, to {target}"
    )
