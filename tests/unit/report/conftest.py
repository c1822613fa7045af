"""Hand-built reports of the report tests: a project report with every section filled, and a
fleet report whose SLO and AI sections have no data (their notes say so).

Times: the period is 2026-01-01 00:00 UTC (1767225600) to 2026-01-31 00:00 UTC, 30 days.
"""

from __future__ import annotations

import pytest

from devmetrics.report.model import (
    ActorFigure,
    Budget,
    Figure,
    FiredAlert,
    Period,
    Ranking,
    Report,
    Scope,
    Unit,
)

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
END = START + 30 * 86400  # 2026-01-31 00:00 UTC
SOURCE = "VictoriaMetrics http://localhost:8428"
SLO_NOTE = (
    "No SLI data: the fleet has no SLO series at 2026-01-31 00:00 UTC, "
    "so there is no error budget to draw."
)
AI_NOTE = (
    "No development-process data: the fleet has no task, review, test or RFC series in the "
    "7d window at 2026-01-31 00:00 UTC."
)


@pytest.fixture
def project_report() -> Report:
    """proj-0001 over 30 days: four DORA figures (one without a trend line), one SLO whose
    service name needs HTML escaping, one fired alert, and AI figures of which the latency
    one has no values."""
    return Report(
        scope=Scope("project", "proj-0001"),
        period=Period(START, END),
        source=SOURCE,
        dora_window="30d",
        process_window="7d",
        projects=1,
        dora=[
            Figure(
                "deployments",
                "Deployments",
                Unit.COUNT,
                "q1",
                value=42.0,
                previous=40.0,
                trend=[(START, 40.0), (END, 42.0)],
                tier=4,
                tier_metric="deployment_frequency",
            ),
            Figure(
                "deploy_days",
                "Deploy days per week",
                Unit.PER_WEEK,
                "q2",
                value=3.5,
                previous=3.0,
                trend=[(START, 3.0), (START + 86400, 3.2), (END, 3.5)],
            ),
            Figure(
                "lead_time",
                "Lead time p50",
                Unit.SECONDS,
                "q3",
                value=7200.0,
                previous=9000.0,
                trend=[],
                tier=3,
                tier_metric="lead_time",
            ),
            Figure(
                "change_failure",
                "Change failure rate",
                Unit.RATIO,
                "q4",
                value=0.125,
                previous=0.1,
                trend=[(START, 0.1), (END, 0.125)],
                tier=None,
                tier_metric="change_failure_rate",
            ),
        ],
        tier_mix={
            "deployment_frequency": {4: 1},
            "lead_time": {3: 1},
            "change_failure_rate": {},
            "recovery_time": {},
            "overall": {3: 1},
        },
        ai=[
            ActorFigure(
                "tasks_completed",
                "Tasks completed",
                Unit.COUNT,
                "throughput",
                "q5",
                {"ai_agent": 120.0, "human": 80.0},
            ),
            ActorFigure(
                "task_success",
                "Task success rate",
                Unit.RATIO,
                "success",
                "q6",
                {"ai_agent": 0.9, "human": 0.95},
            ),
            ActorFigure(
                "task_cycle",
                "Task cycle time p50 (median project)",
                Unit.SECONDS,
                "latency",
                "q7",
                {},
            ),
            ActorFigure(
                "cost_per_task",
                "Cost per completed task",
                Unit.USD,
                "cost",
                "q8",
                {"ai_agent": 1234.5},
            ),
        ],
        budgets=[
            Budget("proj-0001", "api<v2>", "availability", 0.25, [(START, 0.9), (END, 0.25)]),
        ],
        slos=3,
        overspent=0,
        alerts=[
            FiredAlert(
                "proj-0001",
                "api<v2>",
                "availability",
                ("page-fast", "ticket-slow"),
                START + 3600,
                START + 7200,
            ),
        ],
        elapsed_s=1.25,
    )


@pytest.fixture
def fleet_report() -> Report:
    """The fleet over 30 days: two DORA figures (rework without data), a tier mix, two
    rankings (one empty); no SLO and no AI data, with the notes `collect` writes then."""
    return Report(
        scope=Scope("fleet"),
        period=Period(START, END),
        source=SOURCE,
        dora_window="30d",
        process_window="7d",
        projects=12,
        generated_at=END + 90,
        dora=[
            Figure(
                "deployments",
                "Deployments",
                Unit.COUNT,
                "q1",
                value=1200.0,
                previous=1000.0,
                trend=[(START, 1000.0), (END, 1200.0)],
                tier_metric="deployment_frequency",
            ),
            Figure(
                "rework",
                "Rework rate (weighted by deployments)",
                Unit.RATIO,
                "q2",
            ),
        ],
        tier_mix={"deployment_frequency": {4: 5, 3: 4, 1: 3}, "overall": {3: 7, 2: 5}},
        ai=[ActorFigure("tasks_completed", "Tasks completed", Unit.COUNT, "throughput", "q3")],
        rankings=[
            Ranking(
                "Deployments (30d)",
                Unit.COUNT,
                [("proj-a", 12.0), ("proj-b", 9.0)],
                [("proj-z", 0.0)],
            ),
            Ranking("Error budget left (SLO period)", Unit.RATIO, [], []),
        ],
        notes={"slo": SLO_NOTE, "ai": AI_NOTE},
    )
