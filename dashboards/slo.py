"""SLO/SLI: error budget left, burn rate per window, SLIs, and the burn alerts firing."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import variables
from dashboards.kit import (
    Q,
    Reads,
    bar_panel,
    dashboard,
    query_variable,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from dashboards.promql import PROJECTS
from dashboards.queries import BUDGET, BURN_ALERT, SLO_SCOPE, slo_scoped

UID = "devmetrics-slo"
BUDGET_STEPS = ((None, "red"), (0, "orange"), (0.25, "yellow"), (0.5, "green"))
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
FLEET_WINDOWS = 'window=~"1h|1d|3d|30d"'


def _burn(window: str) -> str:
    return slo_scoped("devmetrics_slo_burn_rate", window=window)


def _sli_weighted(good: str, total: str) -> str:
    """Good over total requests summed per SLO kind and window (traffic-weighted, never a
    mean of SLIs)."""
    by = "slo, window"
    return f"sum by ({by}) ({good}) / (sum by ({by}) ({total}) > 0)"


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / SLO and SLI",
            "Which services are spending their error budget, how fast, and which burn-rate "
            "alerts fire? Budgets over each SLO's period, burn rates per window, SLIs.",
            ["slo"],
        )
        .with_variable(variables.team())
        .with_variable(variables.project())
        .with_variable(
            query_variable(
                "service",
                "Service",
                'label_values(devmetrics_slo_requests{project=~"$project"}, service)',
            )
        )
        .with_variable(
            query_variable(
                "slo",
                "SLO",
                'label_values(devmetrics_slo_objective_ratio{project=~"$project"}, slo)',
            )
        )
    )
    budget = BUDGET
    burn = slo_scoped("devmetrics_slo_burn_rate")
    board = (
        board.with_row(row("Error budget"))
        .with_panel(
            stat_panel(
                "Worst error budget left",
                "Lowest share of the error budget left (over each SLO's period) among the "
                "selected SLOs.",
                [Q(f"min({budget})")],
                unit="percentunit",
                steps=BUDGET_STEPS,
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "SLOs overspent",
                "Selected SLOs whose error budget for their period is spent (remaining below 0).",
                [Q(f"count(({budget}) < 0) or vector(0)")],
                steps=((None, "green"), (1, "red")),
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Burn alerts firing (selection)",
                f"{BURN_ALERT} alerts firing for the selected projects, from every Prometheus "
                "server.",
                [
                    Q(
                        f'count(ALERTS{{alertname="{BURN_ALERT}", alertstate="firing", '
                        f"{SLO_SCOPE}}} and on (project) {PROJECTS}) or vector(0)"
                    )
                ],
                steps=((None, "green"), (1, "red")),
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "SLOs burning faster than allowed (1h)",
                "Selected SLOs whose 1h burn rate is above 1.",
                [Q(f"count(({_burn('1h')}) > 1) or vector(0)")],
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Error budget left, lowest 15",
                "The selected SLOs with the least of their error budget left (over each one's "
                "period).",
                [Q(f"bottomk(15, {budget})", "{{project}} {{service}} {{slo}}")],
                unit="percentunit",
                steps=BUDGET_STEPS,
                span=12,
                height=9,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Error budget left, 90 days",
                "Long-term history of the lowest budgets of the selection.",
                [
                    Q(f"bottomk(5, {budget})", "{{project}} {{service}} {{slo}}"),
                ],
                unit="percentunit",
                span=12,
                height=9,
                reads=Reads.HISTORY,
            )
        )
    )
    freeze = slo_scoped("devmetrics_slo_deploy_freeze")
    violations = slo_scoped("devmetrics_slo_policy_violations", window="1d")
    board = (
        board.with_row(row("Error-budget policy"))
        .with_panel(
            stat_panel(
                "Deploy freezes holding",
                "Selected SLOs whose budget remaining is below their freeze level "
                "(freeze_below, default 0): risky deployments should stop.",
                [Q(f"count(({freeze}) == 1) or vector(0)")],
                steps=((None, "green"), (1, "red")),
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Deployments during a freeze (1d)",
                "Successful production deployments of the last day made while a freeze of "
                "one of the selected SLOs held (each SLO judges every deployment).",
                [Q(f"sum({violations}) or vector(0)")],
                steps=((None, "green"), (1, "orange")),
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            table_panel(
                "Period, budget and freeze per SLO",
                "Each selected SLO over its own period (rolling, or the current calendar "
                "month or week in its time zone): SLI, budget left, whether a freeze holds, "
                "deployments made during it in the last day, and when the period began.",
                [
                    ("period SLI", Q(slo_scoped("devmetrics_slo_period_sli_ratio"))),
                    ("objective", Q(slo_scoped("devmetrics_slo_objective_ratio"))),
                    ("budget left", Q(budget)),
                    ("freeze", Q(freeze)),
                    ("violations 1d", Q(violations)),
                    (
                        "period since",
                        Q(f"1000 * {slo_scoped('devmetrics_slo_period_start_timestamp_seconds')}"),
                    ),
                ],
                keys=("project", "service", "slo"),
                span=12,
                height=9,
                sort_by="budget left",
                descending=False,
                units={
                    "period SLI": "percentunit",
                    "objective": "percentunit",
                    "budget left": "percentunit",
                    "period since": "dateTimeAsIso",
                },
            )
        )
        .with_panel(
            timeseries_panel(
                "Deployments during a freeze, 90 days",
                "Per project, the deployments of each day made while a freeze held "
                "(the 1d count as exported; its daily peaks are the days' counts).",
                [Q(f"sum by (project) ({violations})", "{{project}}")],
                span=12,
                height=9,
                reads=Reads.HISTORY,
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
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Fleet SLOs burning, per window",
                "SLOs of all projects whose burn rate is above 1.",
                [Q("count by (window) (devmetrics_slo_burn_rate > 1)", "{{window}}")],
                span=12,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            table_panel(
                "Burn rate per SLO and window",
                "(1 - SLI) / (1 - objective) of each selected SLO, as exported, per window: "
                "the alert windows and the period.",
                [(window, Q(_burn(window))) for window in WINDOWS],
                keys=("project", "service", "slo"),
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
                "Good / total requests of the selected SLOs per SLO kind and window, "
                "traffic-weighted (sums of counts).",
                [
                    Q(
                        _sli_weighted(
                            slo_scoped("devmetrics_slo_requests_good"),
                            slo_scoped("devmetrics_slo_requests"),
                        ),
                        "{{slo}} {{window}}",
                    )
                ],
                unit="percentunit",
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "SLI over the SLO period and objective",
                "Each selected SLO's SLI over its own period (rolling, or the current "
                "calendar month or week), against its objective.",
                [
                    Q(
                        slo_scoped("devmetrics_slo_period_sli_ratio"),
                        "{{project}} {{service}} {{slo}}",
                    ),
                    Q(
                        slo_scoped("devmetrics_slo_objective_ratio"),
                        "objective {{project}} {{service}} {{slo}}",
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
                        _sli_weighted(
                            f"devmetrics_slo_requests_good{{{FLEET_WINDOWS}}}",
                            f"devmetrics_slo_requests{{{FLEET_WINDOWS}}}",
                        ),
                        "{{slo}} {{window}}",
                    )
                ],
                unit="percentunit",
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            table_panel(
                "SLI per SLO and window",
                "Good / total requests of each selected SLO, as exported, per window; absent "
                "for a window without traffic.",
                [
                    (window, Q(slo_scoped("devmetrics_slo_sli_ratio", window=window)))
                    for window in WINDOWS
                ],
                keys=("project", "service", "slo"),
                height=10,
                sort_by="1h",
                descending=False,
                units=dict.fromkeys(WINDOWS, "percentunit"),
            )
        )
        .with_panel(
            timeseries_panel(
                "Requests and good requests (5m)",
                "Traffic of the selected SLOs over the last 5 minutes, and the bad requests "
                "their objectives allow (requests x (1 - objective)).",
                [
                    Q(f"sum({slo_scoped('devmetrics_slo_requests', window='5m')})", "requests"),
                    Q(f"sum({slo_scoped('devmetrics_slo_requests_good', window='5m')})", "good"),
                    Q(
                        f"sum(({slo_scoped('devmetrics_slo_requests', window='5m')})"
                        " * on (project, service, slo) group_left () "
                        "(1 - devmetrics_slo_objective_ratio))",
                        "allowed bad",
                    ),
                ],
                span=24,
                reads=Reads.FLEET,
            )
        )
    )
    return board.with_row(row("Alerts")).with_panel(
        table_panel(
            "SLO burn alerts, whole fleet",
            f"{BURN_ALERT} alerts firing now, all projects of every Prometheus server, with "
            "their tier (page-fast, page-slow, ticket-fast, ticket-slow).",
            [("firing", Q(f'ALERTS{{alertname="{BURN_ALERT}", alertstate="firing"}}'))],
            height=10,
            sort_by="tier",
            descending=False,
            reads=Reads.FLEET,
        )
    )
