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
from dashboards.queries import RANKINGS, best, ranked, worst

UID = "devmetrics-top"
TIER_STEPS = ((None, "red"), (2, "yellow"), (3, "blue"), (4, "green"))


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
    tier = ranked("devmetrics_dora_tier", {"metric": "overall"})
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
        expr = ranked(family, labels)
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
                    [Q(best(expr, higher_better), legend)],
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
                    [Q(worst(expr, higher_better), legend)],
                    unit=unit,
                    steps=((None, "red"),),
                    span=12,
                    height=10,
                    reads=Reads.FLEET,
                )
            )
        )
    return board
