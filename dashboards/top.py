"""Top and bottom projects: ranked by overall DORA tier and by each metric.

A ranking spans the fleet, so every panel and variable reads VictoriaMetrics, which holds the
projects of every Prometheus server.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import variables
from dashboards.kit import (
    Q,
    Reads,
    bar_panel,
    custom_variable,
    dashboard,
    row,
    tier_mappings,
)
from dashboards.promql import TEAM_PROJECTS, selected

UID = "devmetrics-top"
TIER_STEPS = ((None, "red"), (2, "yellow"), (3, "blue"), (4, "green"))
# (title, family, labels, unit, higher is better).
RANKINGS: tuple[tuple[str, str, dict[str, str], str, bool], ...] = (
    ("Deployments ($window)", "devmetrics_dora_deployments", {"window": "$window"}, "", True),
    (
        "Lead time p50 ($window)",
        "devmetrics_dora_lead_time_seconds",
        {"window": "$window", "quantile": "0.5"},
        "s",
        False,
    ),
    (
        "Change failure rate ($window)",
        "devmetrics_dora_change_failure_ratio",
        {"window": "$window"},
        "percentunit",
        False,
    ),
    (
        "Recovery time p50 ($window)",
        "devmetrics_dora_recovery_time_seconds",
        {"window": "$window", "quantile": "0.5"},
        "s",
        False,
    ),
    (
        "Rework rate ($window)",
        "devmetrics_dora_rework_ratio",
        {"window": "$window"},
        "percentunit",
        False,
    ),
    (
        "Error budget left (30d)",
        "devmetrics_slo_error_budget_remaining_ratio",
        {},
        "percentunit",
        True,
    ),
)


def _ranked(family: str, labels: dict[str, str]) -> str:
    matchers = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return selected(f"{family}{{{matchers}}}", TEAM_PROJECTS)


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / Top projects",
            "Which projects perform best and worst? Ranked by overall DORA tier and by each "
            "DORA metric and error budget.",
            ["ranking"],
        )
        .with_variable(variables.team(reads=Reads.FLEET))
        .with_variable(variables.window())
        .with_variable(custom_variable("n", "Projects shown", ["5", "10", "20", "50"], "10"))
    )
    tier = _ranked("devmetrics_dora_tier", {"metric": "overall"})
    board = (
        board.with_row(row("By overall DORA tier (30d)"))
        .with_panel(
            bar_panel(
                "Best $n by overall tier",
                "Projects with the highest overall DORA tier.",
                [Q(f"sort_desc(topk($n, {tier}))", "{{project}}")],
                steps=TIER_STEPS,
                mappings=tier_mappings(),
                span=12,
                height=10,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Worst $n by overall tier",
                "Projects with the lowest overall DORA tier.",
                [Q(f"sort(bottomk($n, {tier}))", "{{project}}")],
                steps=TIER_STEPS,
                mappings=tier_mappings(),
                span=12,
                height=10,
                reads=Reads.FLEET,
            )
        )
    )
    for title, family, labels, unit, higher_better in RANKINGS:
        expr = _ranked(family, labels)
        best, worst = ("topk", "bottomk") if higher_better else ("bottomk", "topk")
        order = {"topk": "sort_desc", "bottomk": "sort"}
        legend = (
            "{{project}} {{service}} {{slo}}"
            if family.startswith("devmetrics_slo_")
            else "{{project}}"
        )
        board = (
            board.with_row(row(title))
            .with_panel(
                bar_panel(
                    f"Best $n: {title}",
                    f"{'Highest' if higher_better else 'Lowest'} values of {family}.",
                    [Q(f"{order[best]}({best}($n, {expr}))", legend)],
                    unit=unit,
                    span=12,
                    height=10,
                    reads=Reads.FLEET,
                )
            )
            .with_panel(
                bar_panel(
                    f"Worst $n: {title}",
                    f"{'Lowest' if higher_better else 'Highest'} values of {family}.",
                    [Q(f"{order[worst]}({worst}($n, {expr}))", legend)],
                    unit=unit,
                    steps=((None, "red"),),
                    span=12,
                    height=10,
                    reads=Reads.FLEET,
                )
            )
        )
    return board
