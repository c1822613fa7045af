"""AI-assisted development: RFC, task, review and test figures, ai_agent next to human.

Every figure is shown for the 1d or the 7d window (the ``window`` variable), quantiles as p50
and p90. Fleet and selection panels sum or rank across projects and read VictoriaMetrics;
ratios there are weighted by their counts. The per-project table reads the selected
datasource and shows the exported per-project figures as they are.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import variables
from dashboards.kit import (
    PanelBuilder,
    Q,
    Reads,
    bar_panel,
    dashboard,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from dashboards.promql import selected, series
from dashboards.queries import (
    AGENT_SUCCESS,
    AI_CHANGE_SHARE,
    AI_SHARE,
    BY_ASSIST,
    LINEAGE_WINDOW,
    QUANTILES,
    TASK_SUCCESS,
    by_actor,
    by_actor_mean,
    by_actor_median,
    by_actor_per,
    by_actor_weighted,
    by_label,
    fleet_by_actor,
    mean_by,
    median_by,
    review_iterations,
    weighted_by,
)

UID = "devmetrics-ai"
ACTOR = "{{actor}}"
WINDOW = "$window"


def _median(name: str) -> list[Q]:
    """Median over the selected projects of their p50 and of their p90, per actor."""
    return [Q(by_actor_median(name, q), f"{ACTOR} {label}") for q, label in QUANTILES]


def _figures(panels: list[tuple[str, str, str | list[Q], str]]) -> list[PanelBuilder]:
    return [
        timeseries_panel(
            name,
            description,
            expr if isinstance(expr, list) else [Q(expr, ACTOR)],
            unit=unit,
            span=8,
            reads=Reads.FLEET,
        )
        for name, description, expr, unit in panels
    ]


def _fleet_row(board: db.Dashboard) -> db.Dashboard:
    completed = fleet_by_actor("devmetrics_task_completed")
    failed = fleet_by_actor("devmetrics_task_failed")
    return (
        board.with_row(row("Fleet ($window)"))
        .with_panel(
            stat_panel(
                "Share of tasks completed by AI agents",
                "All projects: ai_agent completed tasks / all completed tasks.",
                [Q(AI_SHARE)],
                unit="percentunit",
                span=6,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Task success rate",
                "Completed / (completed + failed), summed over all projects.",
                [Q(f"{completed} / (({completed} + {failed}) > 0)", ACTOR)],
                unit="percentunit",
                span=6,
                height=4,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Cost per completed task",
                "Cost of completed and failed tasks / completed tasks, summed over all projects.",
                [Q(f"{fleet_by_actor('devmetrics_task_cost_usd')} / ({completed} > 0)", ACTOR)],
                unit="currencyUSD",
                span=6,
                height=4,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Work done",
                "Tasks completed and failed, reviews, review findings, test runs and RFCs "
                "submitted, all projects.",
                [
                    Q(completed, "tasks completed {{actor}}"),
                    Q(failed, "tasks failed {{actor}}"),
                    Q(fleet_by_actor("devmetrics_review_completed"), "reviews {{actor}}"),
                    Q(fleet_by_actor("devmetrics_review_findings"), "findings {{actor}}"),
                    Q(fleet_by_actor("devmetrics_test_runs"), "test runs {{actor}}"),
                    Q(fleet_by_actor("devmetrics_rfc_submitted"), "RFCs {{actor}}"),
                ],
                span=6,
                height=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Share of tasks completed by AI agents, 90 days",
                "All projects: ai_agent completed tasks / all completed tasks, in the window.",
                [Q(AI_SHARE, "ai_agent share")],
                unit="percentunit",
                span=24,
                height=8,
                reads=Reads.HISTORY,
            )
        )
    )


SECTIONS: dict[str, list[tuple[str, str, str | list[Q], str]]] = {
    "Tasks (selection, $window)": [
        ("Tasks completed", "task.completed events.", by_actor("devmetrics_task_completed"), ""),
        ("Task attempts failed", "task.failed events.", by_actor("devmetrics_task_failed"), ""),
        (
            "Task success rate",
            "Completed / (completed + failed), from the counts.",
            TASK_SUCCESS,
            "percentunit",
        ),
        (
            "Task cycle time p50 and p90 (median project)",
            "Start to completion: the median of the projects' p50 and of their p90.",
            _median("devmetrics_task_cycle_time_seconds"),
            "s",
        ),
        (
            "Task cost",
            "Cost of completed and failed tasks.",
            by_actor("devmetrics_task_cost_usd"),
            "currencyUSD",
        ),
        (
            "Cost per completed task",
            "Cost / completed tasks, from the sums (the projects' own figure is "
            "devmetrics_task_cost_per_task_usd, in the table below).",
            by_actor_per("devmetrics_task_cost_usd", "devmetrics_task_completed"),
            "currencyUSD",
        ),
    ],
    "Reviews (selection, $window)": [
        (
            "Reviews completed",
            "review.completed events, by reviewer.",
            by_actor("devmetrics_review_completed"),
            "",
        ),
        (
            "Review latency p50 and p90 (median project)",
            "Request to completion: the median of the projects' p50 and of their p90.",
            _median("devmetrics_review_latency_seconds"),
            "s",
        ),
        (
            "Review approval rate",
            "Approved / completed, weighted by each project's completed reviews.",
            by_actor_weighted("devmetrics_review_approval_ratio", "devmetrics_review_completed"),
            "percentunit",
        ),
        (
            "Review iterations per change",
            "Mean iteration of the approved reviews, weighted by each project's approved reviews.",
            review_iterations(),
            "",
        ),
        (
            "Review findings",
            "Findings reported by completed reviews (AI findings: ai_agent).",
            by_actor("devmetrics_review_findings"),
            "",
        ),
        (
            "Findings per review",
            "Findings / completed reviews, from the sums.",
            by_actor_per("devmetrics_review_findings", "devmetrics_review_completed"),
            "",
        ),
    ],
    "Tests (selection, $window)": [
        ("Test runs", "test.run_completed events.", by_actor("devmetrics_test_runs"), ""),
        (
            "Test duration p50 and p90 (median project)",
            "Per-run duration: the median of the projects' p50 and of their p90.",
            _median("devmetrics_test_duration_seconds"),
            "s",
        ),
        (
            "Test pass rate (mean project)",
            "Mean over the selected projects of passed / (passed + failed).",
            by_actor_mean("devmetrics_test_pass_ratio"),
            "percentunit",
        ),
        (
            "Flaky test rate (mean project)",
            "Mean over the selected projects of flaky / (passed + failed).",
            by_actor_mean("devmetrics_test_flaky_ratio"),
            "percentunit",
        ),
        (
            "Test coverage (mean project)",
            "Mean over the selected projects of the runs' mean coverage.",
            by_actor_mean("devmetrics_test_coverage_ratio"),
            "percentunit",
        ),
    ],
    "RFCs (selection, $window)": [
        ("RFCs submitted", "rfc.submitted events.", by_actor("devmetrics_rfc_submitted"), ""),
        ("RFCs decided", "Accepted or rejected.", by_actor("devmetrics_rfc_decided"), ""),
        (
            "RFC acceptance rate",
            "Accepted / decided, weighted by each project's decided RFCs.",
            by_actor_weighted("devmetrics_rfc_acceptance_ratio", "devmetrics_rfc_decided"),
            "percentunit",
        ),
        (
            "RFC time to decision p50 and p90 (median project)",
            "Submission to final decision: the median of the projects' p50 and of their p90.",
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

AUTHOR = "{{author}}"
ASSIST = "ai_assisted={{ai_assisted}}"
AGENT = "{{agent}}"
LINEAGE = "devmetrics_lineage_hop_seconds"

# Who wrote the change (docs/metrics.md, "AI impact"): delivery split by the change's author,
# the busiest agents of each project, and the way from RFC to production per hop.
SECTIONS.update(
    {
        "Delivery by who wrote the change (selection, $window)": [
            (
                "Lead time p50 and p90 by author (median project)",
                "Commit to first production deployment of the changes agents and people "
                "wrote: the median of the projects' p50 and of their p90.",
                [
                    Q(
                        median_by("devmetrics_dora_lead_time_by_author_seconds", "author", q),
                        f"{AUTHOR} {label}",
                    )
                    for q, label in QUANTILES
                ],
                "s",
            ),
            (
                "Share of deployed changes written by agents",
                "Of the changes first deployed in the window, the share agents wrote; each "
                "project's share weighted by its deployments.",
                [Q(AI_CHANGE_SHARE, "ai_agent share")],
                "percentunit",
            ),
            (
                "Deployments with and without agents' changes",
                "Deployments that shipped at least one change an agent wrote (true) or none.",
                [Q(by_label(BY_ASSIST, "ai_assisted"), ASSIST)],
                "",
            ),
            (
                "Change failure rate with and without agents' changes",
                "Failed / deployments, weighted by each project's deployments of the group.",
                [
                    Q(
                        weighted_by(
                            "devmetrics_dora_change_failure_by_assist_ratio",
                            BY_ASSIST,
                            "ai_assisted",
                        ),
                        ASSIST,
                    )
                ],
                "percentunit",
            ),
            (
                "Rework rate with and without agents' changes",
                "Hotfixes, rollbacks and remediations / deployments, weighted by each "
                "project's deployments of the group.",
                [
                    Q(
                        weighted_by(
                            "devmetrics_dora_rework_by_assist_ratio", BY_ASSIST, "ai_assisted"
                        ),
                        ASSIST,
                    )
                ],
                "percentunit",
            ),
        ],
        "Agents (selection, $window)": [
            (
                "Tasks completed by agent",
                "task.completed events of each project's busiest agents (the rest: other).",
                [Q(by_label("devmetrics_agent_task_completed", "agent"), AGENT)],
                "",
            ),
            (
                "Task attempts failed by agent",
                "task.failed events of each project's busiest agents (the rest: other).",
                [Q(by_label("devmetrics_agent_task_failed", "agent"), AGENT)],
                "",
            ),
            (
                "Task success rate by agent",
                "Completed / (completed + failed), from the counts.",
                [Q(AGENT_SUCCESS, AGENT)],
                "percentunit",
            ),
            (
                "Cost per merged change by agent (mean project)",
                "Cost of the linked task's attempts per change merged in the window.",
                [Q(mean_by("devmetrics_agent_cost_per_merged_change_usd", "agent"), AGENT)],
                "currencyUSD",
            ),
            (
                "Review findings per change by agent (mean project)",
                "Findings of completed reviews per distinct change of the agent reviewed.",
                [Q(mean_by("devmetrics_agent_review_findings_per_change", "agent"), AGENT)],
                "",
            ),
        ],
        f"Delivery lineage, RFC to production (selection, {LINEAGE_WINDOW})": [
            (
                f"Time per hop {label} by author (median project)",
                "For the changes first deployed in the window that link to a task: the "
                f"median of the projects' {label} of each hop, agents' changes next to people's.",
                [
                    Q(
                        median_by(LINEAGE, "hop, author", q, window=LINEAGE_WINDOW),
                        f"{{{{hop}}}} {AUTHOR}",
                    )
                ],
                "s",
            )
            for q, label in QUANTILES
        ],
    }
)

# The per-project table: (column, family, quantile or None, unit).
PER_PROJECT: tuple[tuple[str, str, str | None, str], ...] = (
    ("tasks completed", "devmetrics_task_completed", None, ""),
    ("task success", "devmetrics_task_success_ratio", None, "percentunit"),
    ("cost per task", "devmetrics_task_cost_per_task_usd", None, "currencyUSD"),
    ("cycle p90", "devmetrics_task_cycle_time_seconds", "0.9", "s"),
    ("review latency p90", "devmetrics_review_latency_seconds", "0.9", "s"),
    ("review iterations", "devmetrics_review_iterations_per_change", None, ""),
    ("test duration p90", "devmetrics_test_duration_seconds", "0.9", "s"),
    ("RFC decision p90", "devmetrics_rfc_time_to_decision_seconds", "0.9", "s"),
)


def _per_project_table() -> PanelBuilder:
    columns = [
        (
            column,
            Q(
                selected(
                    series(family, window=WINDOW, quantile=quantile)
                    if quantile
                    else series(family, window=WINDOW)
                )
            ),
        )
        for column, family, quantile, _unit in PER_PROJECT
    ]
    return table_panel(
        "AI agents and people per project ($window)",
        "The selected projects' own figures per actor, as exported: tasks, success rate, "
        "cost per completed task, cycle time, review latency and iterations, test duration "
        "and RFC decision time (p90).",
        columns,
        keys=("project", "actor"),
        height=12,
        sort_by="tasks completed",
        units={column: unit for column, _f, _q, unit in PER_PROJECT if unit},
    )


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / AI-assisted development",
            "How much of the work do AI agents do, and how well, next to people? RFCs, tasks, "
            "reviews and tests over 1 or 7 days, split by actor (ai_agent / human).",
            ["ai", "process"],
        )
        .with_variable(variables.team())
        .with_variable(variables.project())
        .with_variable(variables.process_window())
    )
    board = _fleet_row(board)
    for title, panels in SECTIONS.items():
        board = board.with_row(row(title))
        for panel in _figures(panels):
            board = board.with_panel(panel)
    return board.with_row(row("Per project ($window)")).with_panel(_per_project_table())
