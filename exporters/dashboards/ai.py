"""AI-assisted development: RFC, task, review and test figures, ai_agent next to human."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from exporters.dashboards import variables
from exporters.dashboards.kit import (
    PanelBuilder,
    Q,
    bar_panel,
    dashboard,
    row,
    stat_panel,
    timeseries_panel,
)
from exporters.dashboards.promql import selected, series

UID = "devmetrics-ai"
ACTOR = "{{actor}}"


def _sum(name: str, **labels: str) -> str:
    return f"sum by (actor) ({selected(series(name, window='7d', **labels))})"


def _weighted(ratio: str, weight: str) -> str:
    """Per-actor ratio over the selection, weighted by each project's count."""
    r, w = series(ratio, window="7d"), series(weight, window="7d")
    return (
        f"sum by (actor) ({selected(f'{r} * on (project, actor) {w}')})"
        f" / (sum by (actor) ({selected(w)}) > 0)"
    )


def _median(name: str) -> str:
    """Median over the selected projects of their p50, per actor."""
    return f"quantile by (actor) (0.5, {selected(series(name, window='7d', quantile='0.5'))})"


def _mean(name: str) -> str:
    return f"avg by (actor) ({selected(series(name, window='7d'))})"


def _figures(panels: list[tuple[str, str, str, str]]) -> list[PanelBuilder]:
    return [
        timeseries_panel(name, description, [Q(expr, ACTOR)], unit=unit, span=8)
        for name, description, expr, unit in panels
    ]


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / AI-assisted development",
            "How much of the work do AI agents do, and how well, next to people? RFCs, tasks, "
            "reviews and tests over 7 days, split by actor (ai_agent / human).",
            ["ai", "process"],
        )
        .with_variable(variables.team())
        .with_variable(variables.project())
    )
    board = (
        board.with_row(row("Fleet, 7 days"))
        .with_panel(
            stat_panel(
                "Share of tasks completed by AI agents",
                "All projects: ai_agent completed tasks / all completed tasks.",
                [
                    Q(
                        'sum(actor:devmetrics_task_completed:sum{actor="ai_agent"})'
                        " / (sum(actor:devmetrics_task_completed:sum) > 0)"
                    )
                ],
                unit="percentunit",
                span=6,
            )
        )
        .with_panel(
            bar_panel(
                "Task success rate",
                "Completed / (completed + failed), all projects.",
                [Q("actor:devmetrics_task_success:ratio", ACTOR)],
                unit="percentunit",
                span=6,
                height=4,
            )
        )
        .with_panel(
            bar_panel(
                "Cost per completed task",
                "Cost of completed and failed tasks / completed tasks, all projects.",
                [Q("actor:devmetrics_task_cost_per_task_usd:ratio", ACTOR)],
                unit="currencyUSD",
                span=6,
                height=4,
            )
        )
        .with_panel(
            bar_panel(
                "Work done",
                "Tasks completed and failed, reviews, review findings, test runs and RFCs "
                "submitted, all projects.",
                [
                    Q("actor:devmetrics_task_completed:sum", "tasks completed {{actor}}"),
                    Q("actor:devmetrics_task_failed:sum", "tasks failed {{actor}}"),
                    Q("actor:devmetrics_review_completed:sum", "reviews {{actor}}"),
                    Q("actor:devmetrics_review_findings:sum", "findings {{actor}}"),
                    Q("actor:devmetrics_test_runs:sum", "test runs {{actor}}"),
                    Q("actor:devmetrics_rfc_submitted:sum", "RFCs {{actor}}"),
                ],
                span=6,
                height=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Share of tasks completed by AI agents, 90 days",
                "Long-term history from VictoriaMetrics.",
                [
                    Q(
                        'sum(actor:devmetrics_task_completed:sum{actor="ai_agent"})'
                        " / (sum(actor:devmetrics_task_completed:sum) > 0)",
                        "ai_agent share",
                    )
                ],
                unit="percentunit",
                span=24,
                height=8,
                long=True,
            )
        )
    )
    sections = {
        "Tasks (selection, 7d)": [
            ("Tasks completed", "task.completed events.", _sum("devmetrics_task_completed"), ""),
            ("Task attempts failed", "task.failed events.", _sum("devmetrics_task_failed"), ""),
            (
                "Task success rate",
                "Completed / (completed + failed), from the counts.",
                f"{_sum('devmetrics_task_completed')} / (({_sum('devmetrics_task_completed')}"
                f" + {_sum('devmetrics_task_failed')}) > 0)",
                "percentunit",
            ),
            (
                "Task cycle time p50 (median project)",
                "Start to completion.",
                _median("devmetrics_task_cycle_time_seconds"),
                "s",
            ),
            (
                "Task cost",
                "Cost of completed and failed tasks.",
                _sum("devmetrics_task_cost_usd"),
                "currencyUSD",
            ),
            (
                "Cost per completed task",
                "Cost / completed tasks.",
                f"{_sum('devmetrics_task_cost_usd')} / ({_sum('devmetrics_task_completed')} > 0)",
                "currencyUSD",
            ),
        ],
        "Reviews (selection, 7d)": [
            (
                "Reviews completed",
                "review.completed events, by reviewer.",
                _sum("devmetrics_review_completed"),
                "",
            ),
            (
                "Review latency p50 (median project)",
                "Request to completion.",
                _median("devmetrics_review_latency_seconds"),
                "s",
            ),
            (
                "Review approval rate",
                "Approved / completed, weighted by each project's completed reviews.",
                _weighted("devmetrics_review_approval_ratio", "devmetrics_review_completed"),
                "percentunit",
            ),
            (
                "Review findings",
                "Findings reported by completed reviews.",
                _sum("devmetrics_review_findings"),
                "",
            ),
        ],
        "Tests (selection, 7d)": [
            ("Test runs", "test.run_completed events.", _sum("devmetrics_test_runs"), ""),
            (
                "Test pass rate (mean project)",
                "Mean over the selected projects of passed / (passed + failed).",
                _mean("devmetrics_test_pass_ratio"),
                "percentunit",
            ),
            (
                "Flaky test rate (mean project)",
                "Mean over the selected projects of flaky / (passed + failed).",
                _mean("devmetrics_test_flaky_ratio"),
                "percentunit",
            ),
            (
                "Test coverage (mean project)",
                "Mean over the selected projects of the runs' mean coverage.",
                _mean("devmetrics_test_coverage_ratio"),
                "percentunit",
            ),
        ],
        "RFCs (selection, 7d)": [
            ("RFCs submitted", "rfc.submitted events.", _sum("devmetrics_rfc_submitted"), ""),
            ("RFCs decided", "Accepted or rejected.", _sum("devmetrics_rfc_decided"), ""),
            (
                "RFC acceptance rate",
                "Accepted / decided, weighted by each project's decided RFCs.",
                _weighted("devmetrics_rfc_acceptance_ratio", "devmetrics_rfc_decided"),
                "percentunit",
            ),
            (
                "RFC time to decision p50 (median project)",
                "Submission to final decision.",
                _median("devmetrics_rfc_time_to_decision_seconds"),
                "s",
            ),
            (
                "Open RFC backlog",
                "RFCs submitted in the last 30 days without a final decision, by submitter.",
                f"sum by (actor) ({selected(series('devmetrics_rfc_open_backlog'))})",
                "",
            ),
        ],
    }
    for title, panels in sections.items():
        board = board.with_row(row(title))
        for panel in _figures(panels):
            board = board.with_panel(panel)
    return board
