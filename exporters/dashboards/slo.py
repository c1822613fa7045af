"""SLO/SLI: error budget left, burn rate per window, SLIs, and the burn alerts firing."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from exporters.dashboards import variables
from exporters.dashboards.kit import (
    Q,
    bar_panel,
    dashboard,
    query_variable,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from exporters.dashboards.promql import PROJECTS

UID = "devmetrics-slo"
BURN_ALERT = "DevmetricsSLOErrorBudgetBurn"
SCOPE = 'project=~"$project", service=~"$service", slo=~"$slo"'
SLI = f"devmetrics:slo_sli:ratio{{{SCOPE}}}"
BUDGET_STEPS = ((None, "red"), (0, "orange"), (0.25, "yellow"), (0.5, "green"))


def _in_selection(expr: str) -> str:
    return f"({expr}) and on (project) {PROJECTS}"


def _five_minutes(name: str) -> str:
    return _in_selection(f'{name}{{{SCOPE}, window="5m"}}')


def _burn(window: str) -> str:
    return _in_selection(f'devmetrics:slo_burn_rate:ratio{{{SCOPE}, window="{window}"}}')


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / SLO and SLI",
            "Which services are spending their error budget, how fast, and which burn-rate "
            "alerts fire? Budgets over 30 days, burn rates per window, SLIs.",
            ["slo"],
        )
        .with_variable(variables.team())
        .with_variable(variables.project())
        .with_variable(
            query_variable(
                "service",
                "Service",
                'label_values(devmetrics:slo_requests:max{project=~"$project"}, service)',
            )
        )
        .with_variable(
            query_variable(
                "slo",
                "SLO",
                'label_values(devmetrics:slo_objective:ratio{project=~"$project"}, slo)',
            )
        )
    )
    budget = _in_selection(f"devmetrics:slo_error_budget_remaining:ratio{{{SCOPE}}}")
    burn = _in_selection(f"devmetrics:slo_burn_rate:ratio{{{SCOPE}}}")
    board = (
        board.with_row(row("Error budget"))
        .with_panel(
            stat_panel(
                "Worst error budget left",
                "Lowest share of the 30-day error budget left among the selected SLOs.",
                [Q(f"min({budget})")],
                unit="percentunit",
                steps=BUDGET_STEPS,
                span=6,
            )
        )
        .with_panel(
            stat_panel(
                "SLOs overspent",
                "Selected SLOs whose 30-day error budget is spent (remaining below 0).",
                [Q(f"count(({budget}) < 0) or vector(0)")],
                steps=((None, "green"), (1, "red")),
                span=6,
            )
        )
        .with_panel(
            stat_panel(
                "Burn alerts firing (selection)",
                f"{BURN_ALERT} alerts firing for the selected projects.",
                [
                    Q(
                        f'count(ALERTS{{alertname="{BURN_ALERT}", alertstate="firing", '
                        f"{SCOPE}}} and on (project) {PROJECTS}) or vector(0)"
                    )
                ],
                steps=((None, "green"), (1, "red")),
                span=6,
            )
        )
        .with_panel(
            stat_panel(
                "SLOs burning faster than allowed (1h)",
                "Selected SLOs whose 1h burn rate is above 1 (window:devmetrics_slo_burning "
                "counts the fleet).",
                [Q(f"count(({_burn('1h')}) > 1) or vector(0)")],
                span=6,
            )
        )
        .with_panel(
            bar_panel(
                "Error budget left, lowest 15",
                "The selected SLOs with the least of their 30-day error budget left.",
                [Q(f"bottomk(15, {budget})", "{{project}} {{service}} {{slo}}")],
                unit="percentunit",
                steps=BUDGET_STEPS,
                span=12,
                height=9,
            )
        )
        .with_panel(
            timeseries_panel(
                "Error budget left, 90 days",
                "Long-term history of the lowest budgets, from VictoriaMetrics.",
                [
                    Q(f"bottomk(5, {budget})", "{{project}} {{service}} {{slo}}"),
                ],
                unit="percentunit",
                span=12,
                height=9,
                long=True,
            )
        )
    )
    board = (
        board.with_row(row("Burn rate"))
        .with_panel(
            timeseries_panel(
                "Highest burn rate per window",
                "The fastest burn among the selected SLOs, per window (1 spends the budget "
                "exactly in 30 days; alerts page at 14.4 over 1h and 6 over 6h).",
                [Q(f"max by (window) ({burn})", "{{window}}")],
                span=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Fleet SLOs burning, per window",
                "SLOs of all projects whose burn rate is above 1 (recording rule).",
                [Q("window:devmetrics_slo_burning:count", "{{window}}")],
                span=12,
            )
        )
        .with_panel(
            table_panel(
                "Burn rate per SLO and window",
                "(1 - SLI) / (1 - objective) for each selected SLO; the alert windows.",
                [
                    (window, Q(_burn(window)))
                    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
                ],
                height=10,
                sort_by="1h",
            )
        )
    )
    board = (
        board.with_row(row("SLI"))
        .with_panel(
            timeseries_panel(
                "SLI per window",
                "Good / total requests of the selected SLOs (lowest per window).",
                [
                    Q(
                        f"min by (window) ({_in_selection(SLI)})",
                        "{{window}}",
                    )
                ],
                unit="percentunit",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "SLI over the SLO period and objective",
                "30-day SLI derived from the error budget, against the objective.",
                [
                    Q(
                        _in_selection(f"devmetrics:slo_period_sli:ratio{{{SCOPE}}}"),
                        "{{project}} {{service}} {{slo}}",
                    ),
                    Q(
                        f"min({_in_selection(f'devmetrics:slo_objective:ratio{{{SCOPE}}}')})",
                        "objective (min)",
                    ),
                ],
                unit="percentunit",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Fleet SLI per SLO kind",
                "All projects, traffic-weighted: sums of good over sums of requests.",
                [
                    Q(
                        'slo_window:devmetrics_slo_sli:ratio{window=~"1h|1d|3d"}',
                        "{{slo}} {{window}}",
                    )
                ],
                unit="percentunit",
                span=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Requests and good requests (5m)",
                "Traffic of the selected SLOs over the last 5 minutes, and the bad requests "
                "their objectives allow.",
                [
                    Q(
                        f"sum({_five_minutes('devmetrics:slo_requests:max')})",
                        "requests",
                    ),
                    Q(
                        f"sum({_five_minutes('devmetrics:slo_requests_good:max')})",
                        "good",
                    ),
                    Q(
                        f"sum({_five_minutes('devmetrics:slo_allowed_errors:count')})",
                        "allowed bad",
                    ),
                ],
                span=24,
            )
        )
    )
    return board.with_row(row("Alerts")).with_panel(
        table_panel(
            "SLO burn alerts, whole fleet",
            f"{BURN_ALERT} alerts firing now, all projects, with their tier "
            "(page-fast, page-slow, ticket-fast, ticket-slow).",
            [("firing", Q(f'ALERTS{{alertname="{BURN_ALERT}", alertstate="firing"}}'))],
            height=10,
            sort_by="tier",
            descending=False,
        )
    )
