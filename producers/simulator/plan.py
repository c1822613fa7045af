"""Planning a simulator run from the command line's options, and reporting its end: the
helpers of `devmetrics simulate` (producers.simulator.cli)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from core.settings import Settings
from core.slo_definitions import SloConfigError, SloDefinitions, load_slo_file
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
    load_scenario_file,
    parse_scenario,
    parse_time,
    resolve_requests,
)
from producers.simulator.truth import TruthFile


@dataclass(frozen=True)
class Scenarios:
    """The scenarios asked for: `--scenario` texts, a file, and whether the defaults apply."""

    texts: tuple[str, ...] = ()
    file: Path | None = None
    defaults: bool = True


def plan_run(
    projects: int,
    days: float,
    seed: int,
    end: str,
    is_live: bool,
    rate: float,
    sli_interval: int | None,
    now_ms: int,
    scenarios: Scenarios,
) -> RunPlan:
    """The run the options describe; ScenarioError names a bad scenario or time."""
    anchor = now_ms // 1000 * 1000 if is_live else _end_time(end, now_ms)
    requests: list[ScenarioRequest] = [parse_scenario(s) for s in scenarios.texts]
    if scenarios.file is not None:
        requests += load_scenario_file(scenarios.file)
    if scenarios.defaults:
        requests = default_requests(projects, seed) + requests
    ids = [project_id_of(i) for i in range(1, projects + 1)]
    spans = resolve_requests(requests, ids, anchor, forward=is_live)
    return RunPlan(
        seed=seed,
        n_projects=projects,
        end_ms=anchor,
        days=int(days) if days.is_integer() else days,
        sli_interval_s=sli_interval or (10 if is_live else 300),
        scenarios=spans,
        activity=rate,
    )


def _slo_definitions(settings: Settings) -> SloDefinitions | None:
    """The processors' SLO definitions (`processor.slo_file`), which the truth honours."""
    path = settings.processor.slo_file
    if path is None:
        return None
    try:
        return load_slo_file(path)
    except SloConfigError as exc:
        raise click.ClickException(f"SLO definitions unusable:\n{exc}") from exc


def execute(
    plan: RunPlan,
    settings: Settings,
    is_live: bool,
    duration: float | None,
    truth_path: Path | None,
    no_kafka: bool,
) -> None:
    """Run the plan: produce (unless `no_kafka`) with a progress line, write the truth file
    when asked, print the delivery report; a failed delivery raises ClickException."""
    days = plan.days
    slos = _slo_definitions(settings) if truth_path else None
    clock = SystemClock()
    publisher = None
    if not no_kafka:
        from core.kafka import check_access, ensure_topics
        from producers.publisher import Publisher
        from schemas.topics import Topics

        check_access(settings.kafka, Topics(settings.kafka.topic_prefix).all_events)
        ensure_topics(settings.kafka)
        publisher = Publisher(settings.kafka, client_id="devmetrics-simulator", own_records=True)
    progress = Progress(
        sys.stderr,
        total_projects=plan.n_projects,
        acknowledged=(lambda: publisher.acknowledged) if publisher else None,
    )
    if is_live:
        progress.projects = plan.n_projects  # every project runs from the start
        result, published = live(
            plan,
            publisher,
            clock,
            LiveOptions(duration_s=duration),
            keep_for_truth=truth_path is not None,
            progress=progress,
        )
        truth = (
            live_truth(plan, result.as_of, published, days, settings.processor.agent_top_n, slos)
            if truth_path
            else None
        )
    else:
        truth = (
            TruthFile(
                as_of=plan.end_ms,
                seed=plan.seed,
                days=days,
                sli_interval_s=plan.sli_interval_s,
                projects={},
                agent_top_n=settings.processor.agent_top_n,
                slos=slos,
            )
            if truth_path
            else None
        )
        result = backfill(plan, publisher, truth, progress)
    progress.close()
    finish(result, publisher, truth, truth_path)


def _end_time(text: str, now_ms: int) -> int:
    """T: 'now' or ISO 8601 with a zone, floored to the minute."""
    try:
        value = parse_time(text, now_ms) if text != "now" else now_ms
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--end") from exc
    return value // MINUTE_MS * MINUTE_MS


def finish(
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


def describe_plan(
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
