"""Example state records shaped like the processors' output (every series of docs/metrics.md).

For tests, benchmarks and demos of the exporter: values are arbitrary but plausible and
deterministic for a given project id and seed.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from core.catalogue import (
    ACTORS,
    AGENT_COST_PER_MERGED_CHANGE_USD,
    AGENT_OTHER,
    AGENT_REVIEW_FINDINGS_PER_CHANGE,
    AGENT_TASK_COMPLETED,
    AGENT_TASK_FAILED,
    AGENT_TASK_SUCCESS_RATIO,
    AGENT_TOP_N,
    DORA_AI_CHANGE_SHARE_RATIO,
    DORA_CHANGE_FAILURE_BY_ASSIST_RATIO,
    DORA_DEPLOYMENTS_BY_ASSIST,
    DORA_HISTORY_COVERAGE_RATIO,
    DORA_LEAD_TIME_BY_AUTHOR_SECONDS,
    DORA_REWORK_BY_ASSIST_RATIO,
    DORA_TIER_METRICS,
    DORA_WINDOWS,
    LABEL_VALUES,
    LINEAGE_HOP_SECONDS,
    PROCESS_WINDOWS,
    Family,
)
from core.catalogue import QUANTILE_LABELS as QUANTILES

OBJECTIVES = {"availability": 0.999, "latency": 0.99}
_WINDOW_SECONDS = {
    "5m": 300,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "6h": 21600,
    "1d": 86400,
    "3d": 259200,
    "30d": 2592000,
}
_PROCESS_COUNTS = (
    "devmetrics_rfc_submitted",
    "devmetrics_rfc_decided",
    "devmetrics_task_completed",
    "devmetrics_task_failed",
    "devmetrics_review_completed",
    "devmetrics_test_runs",
)
_PROCESS_RATIOS = (
    "devmetrics_rfc_acceptance_ratio",
    "devmetrics_task_success_ratio",
    "devmetrics_review_approval_ratio",
    "devmetrics_test_pass_ratio",
    "devmetrics_test_flaky_ratio",
    "devmetrics_test_coverage_ratio",
)
_PROCESS_DURATIONS = (
    "devmetrics_rfc_time_to_decision_seconds",
    "devmetrics_task_cycle_time_seconds",
    "devmetrics_review_latency_seconds",
    "devmetrics_test_duration_seconds",
)
# The AI-impact families, filled generically: every window, label value and quantile.
_AI_FAMILIES: tuple[Family, ...] = (
    DORA_HISTORY_COVERAGE_RATIO,
    DORA_LEAD_TIME_BY_AUTHOR_SECONDS,
    DORA_AI_CHANGE_SHARE_RATIO,
    DORA_DEPLOYMENTS_BY_ASSIST,
    DORA_CHANGE_FAILURE_BY_ASSIST_RATIO,
    DORA_REWORK_BY_ASSIST_RATIO,
    AGENT_TASK_COMPLETED,
    AGENT_TASK_FAILED,
    AGENT_TASK_SUCCESS_RATIO,
    AGENT_COST_PER_MERGED_CHANGE_USD,
    AGENT_REVIEW_FINDINGS_PER_CHANGE,
    LINEAGE_HOP_SECONDS,
)
_AGENTS = (*(f"agent-{n}" for n in range(1, AGENT_TOP_N + 1)), AGENT_OTHER)
_PROCESS_AMOUNTS = (
    "devmetrics_task_cost_usd",
    "devmetrics_task_cost_per_task_usd",
    "devmetrics_review_iterations_per_change",
    "devmetrics_review_findings",
)


def sample(name: str, value: float, **labels: str) -> dict[str, Any]:
    """One Sample record of the state schema."""
    return {"name": name, "labels": labels, "value": float(value)}


def example_record(
    project_id: str,
    *,
    as_of_ms: int = 1_750_000_000_000,
    services: tuple[str, ...] = ("api",),
    team: str | None = "platform",
    seed: int = 0,
) -> dict[str, Any]:
    """A full state record of one project: about 100 series per service plus DORA and process."""
    rng = random.Random(f"{seed}:{project_id}")
    metrics: list[dict[str, Any]] = []
    add = metrics.append
    for window in DORA_WINDOWS:
        add(sample("devmetrics_dora_deployments", rng.randint(0, 90), window=window))
        add(sample("devmetrics_dora_change_failure_ratio", rng.random() / 3, window=window))
        add(sample("devmetrics_dora_rework_ratio", rng.random() / 4, window=window))
        for quantile in QUANTILES:
            add(
                sample(
                    "devmetrics_dora_lead_time_seconds",
                    rng.uniform(600, 9e5),
                    window=window,
                    quantile=quantile,
                )
            )
            add(
                sample(
                    "devmetrics_dora_recovery_time_seconds",
                    rng.uniform(300, 9e4),
                    window=window,
                    quantile=quantile,
                )
            )
    add(sample("devmetrics_dora_deploy_day_per_week", rng.randint(0, 30) * 7 / 30, window="30d"))
    for metric in DORA_TIER_METRICS:
        add(sample("devmetrics_dora_tier", rng.randint(1, 4), metric=metric))
    for service in services:
        rate = rng.uniform(0.5, 50.0)
        for slo, objective in OBJECTIVES.items():
            add(sample("devmetrics_slo_objective_ratio", objective, service=service, slo=slo))
            add(
                sample(
                    "devmetrics_slo_error_budget_remaining_ratio",
                    rng.uniform(-0.5, 1),
                    service=service,
                    slo=slo,
                )
            )
            add(
                sample(
                    "devmetrics_slo_period_sli_ratio",
                    1 - rng.uniform(0, 3) * (1 - objective),
                    service=service,
                    slo=slo,
                )
            )
            start = as_of_ms / 1000 - 30 * 86400
            add(
                sample(
                    "devmetrics_slo_period_start_timestamp_seconds", start, service=service, slo=slo
                )
            )
            add(sample("devmetrics_slo_deploy_freeze", rng.randint(0, 1), service=service, slo=slo))
            add(
                sample(
                    "devmetrics_slo_policy_violations",
                    rng.randint(0, 3),
                    service=service,
                    slo=slo,
                    window="1d",
                )
            )
            for window, seconds in _WINDOW_SECONDS.items():
                total = int(rate * seconds)
                good = total - int(total * rng.uniform(0, 3) * (1 - objective))
                labels = {"service": service, "slo": slo, "window": window}
                add(sample("devmetrics_slo_requests", total, **labels))
                add(sample("devmetrics_slo_requests_good", good, **labels))
                if total:
                    sli = good / total
                    add(sample("devmetrics_slo_sli_ratio", sli, **labels))
                    add(sample("devmetrics_slo_burn_rate", (1 - sli) / (1 - objective), **labels))
    for actor in ACTORS:
        add(sample("devmetrics_rfc_open_backlog", rng.randint(0, 20), actor=actor))
        for window in PROCESS_WINDOWS:
            for name in _PROCESS_COUNTS:
                add(sample(name, rng.randint(0, 200), window=window, actor=actor))
            for name in _PROCESS_RATIOS:
                add(sample(name, rng.random(), window=window, actor=actor))
            for name in _PROCESS_AMOUNTS:
                add(sample(name, round(rng.uniform(0, 50), 2), window=window, actor=actor))
            for name in _PROCESS_DURATIONS:
                for quantile in QUANTILES:
                    add(
                        sample(
                            name,
                            rng.uniform(10, 86400),
                            window=window,
                            actor=actor,
                            quantile=quantile,
                        )
                    )
    for family in _AI_FAMILIES:
        metrics.extend(_every_series(family, rng))
    return {
        "project_id": project_id,
        "as_of": as_of_ms,
        "computed_at": as_of_ms + 250,
        "last_event_at": as_of_ms - 4_000,
        "events_applied": rng.randint(1_000, 1_000_000),
        "team": team,
        "schema_version": 1,
        "metrics": metrics,
    }


def _every_series(family: Family, rng: random.Random) -> list[dict[str, Any]]:
    """One sample of each series the family can have for a project (agent: the N named
    agents and `other`)."""
    axes: list[list[tuple[str, str]]] = []
    for label in family.labels:
        values = _AGENTS if label == "agent" else LABEL_VALUES[label]
        axes.append([(label, value) for value in values])
    if family.windows:
        axes.append([("window", window) for window in family.windows])
    if family.kind == "summary":
        axes.append([("quantile", quantile) for quantile in QUANTILES])
    return [
        sample(family.name, round(rng.uniform(0, 1000), 3), **dict(combination))
        for combination in itertools.product(*axes)
    ]
