"""DORA: the five metrics and their tiers, by team and by project, with deployments marked."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards import variables
from dashboards.kit import (
    SELECTED,
    Q,
    Reads,
    bar_panel,
    dashboard,
    row,
    stat_panel,
    table_panel,
    tier_mappings,
    timeseries_panel,
)
from dashboards.promql import selected, series, weighted, with_team
from dashboards.queries import (
    CFR,
    COVERAGE_30D,
    DEPLOY_DAYS,
    DEPLOYS,
    FLEET_DEPLOYS,
    REWORK,
    SELECTION_CFR,
    SELECTION_DEPLOY_DAYS,
    SELECTION_DEPLOYMENTS,
    SELECTION_LEAD_P50,
    SELECTION_RECOVERY_P50,
    SELECTION_REWORK,
    TIER_METRICS,
    TIERS_WITHHELD,
    dora_quantile,
    fleet_share,
    tier,
    tier_mix,
)

UID = "devmetrics-dora"
WINDOW = "$window"
RECOVERY = "devmetrics_dora_recovery_time_seconds"


def deployment_annotation() -> db.AnnotationQuery:
    """A mark wherever a selected project's 30d deployment count rose: a new deployment."""
    current = series("devmetrics_dora_deployments", window="30d")
    earlier = f"{current} offset $__interval"
    return (
        db.AnnotationQuery()
        .name("Deployments")
        .datasource(SELECTED)
        .enable(True)
        .icon_color("#5794F2")
        .target(db.AnnotationTarget().type("dashboard").limit(100).match_any(False).tags([]))
        .expr(f"({current} - {earlier}) > 0")
    )


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / DORA",
            "How often do teams deploy, how fast do changes reach production, how often do "
            "deployments fail and how fast do they recover? DORA 2024 metrics and tiers.",
            ["dora"],
        )
        .with_variable(variables.team())
        .with_variable(variables.project())
        .with_variable(variables.window())
        .annotation(deployment_annotation())
    )
    tiers_by_metric = [(metric, Q(tier(metric))) for metric in TIER_METRICS]
    board = (
        board.with_row(row("Selection ($window)"))
        .with_panel(
            stat_panel(
                "Deployments",
                "Successful production deployments of the selected projects in the window.",
                [Q(SELECTION_DEPLOYMENTS)],
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Lead time p50 (median project)",
                "Median over the selected projects of their commit-to-deploy p50.",
                [Q(SELECTION_LEAD_P50)],
                unit="s",
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Change failure rate",
                "Failed deployments / deployments, weighted by each project's deployments.",
                [Q(SELECTION_CFR)],
                unit="percentunit",
                steps=((None, "green"), (0.05, "blue"), (0.2, "yellow"), (0.3, "red")),
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Recovery time p50 (median project)",
                "Median over the selected projects of their incident recovery p50.",
                [Q(SELECTION_RECOVERY_P50)],
                unit="s",
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Rework rate",
                "Hotfix, rollback and remediation deployments / deployments, weighted.",
                [Q(SELECTION_REWORK)],
                unit="percentunit",
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Deploy days per week (mean)",
                "Mean over the selected projects of distinct deployment days per week (30d).",
                [Q(SELECTION_DEPLOY_DAYS)],
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            bar_panel(
                "Projects per overall tier",
                "Selected projects by overall DORA tier (30d).",
                [Q(tier_mix("overall"), "{{tier}}")],
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            stat_panel(
                "Projects with tiers withheld",
                "Selected projects whose history covers less than a day of the 30d window: "
                "no tier yet (docs/metrics.md, tiers over a partly covered history).",
                [Q(TIERS_WITHHELD)],
                span=4,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Fleet deployments and failure shares",
                "All projects: deployments in the window, change failure and rework shares "
                "weighted by deployments.",
                [
                    Q(f"sum({FLEET_DEPLOYS})", "deployments"),
                    Q(fleet_share("devmetrics_dora_change_failure_ratio"), "change failure rate"),
                    Q(fleet_share("devmetrics_dora_rework_ratio"), "rework rate"),
                ],
                span=12,
                reads=Reads.FLEET,
            )
        )
    )
    board = (
        board.with_row(row("By team ($window)"))
        .with_panel(
            timeseries_panel(
                "Deployments by team",
                "Successful production deployments in the window, per team.",
                [Q(f"sum by (team) ({with_team(DEPLOYS)})", "{{team}}")],
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Change failure rate by team",
                "Weighted by the projects' deployments.",
                [Q(weighted(CFR, DEPLOYS, by_team=True), "{{team}}")],
                unit="percentunit",
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Rework rate by team",
                "Weighted by the projects' deployments.",
                [Q(weighted(REWORK, DEPLOYS, by_team=True), "{{team}}")],
                unit="percentunit",
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Lead time p50 by team (median project)",
                "Median over each team's projects of their lead-time p50.",
                [
                    Q(
                        "quantile by (team) (0.5, "
                        f"{with_team(dora_quantile('devmetrics_dora_lead_time_seconds', '0.5'))})",
                        "{{team}}",
                    )
                ],
                unit="s",
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Recovery time p50 by team (median project)",
                "Median over each team's projects of their recovery p50.",
                [
                    Q(
                        f"quantile by (team) (0.5, {with_team(dora_quantile(RECOVERY, '0.5'))})",
                        "{{team}}",
                    )
                ],
                unit="s",
                span=8,
                reads=Reads.FLEET,
            )
        )
        .with_panel(
            timeseries_panel(
                "Mean overall tier by team",
                "Mean of the projects' overall tier (4 elite, 3 high, 2 medium, 1 low).",
                [
                    Q(
                        "avg by (team) "
                        f"({with_team(series('devmetrics_dora_tier', metric='overall'))})",
                        "{{team}}",
                    )
                ],
                span=8,
                reads=Reads.FLEET,
            )
        )
    )
    return (
        board.with_row(row("By project"))
        .with_panel(
            table_panel(
                "DORA per project ($window)",
                "Every DORA figure of the selected projects; tiers are over 30d.",
                [
                    ("deployments", Q(DEPLOYS)),
                    (
                        "deploy days/week",
                        Q(DEPLOY_DAYS),
                    ),
                    ("lead p50", Q(dora_quantile("devmetrics_dora_lead_time_seconds", "0.5"))),
                    ("lead p90", Q(dora_quantile("devmetrics_dora_lead_time_seconds", "0.9"))),
                    ("change failure", Q(CFR)),
                    ("recovery p50", Q(dora_quantile(RECOVERY, "0.5"))),
                    ("recovery p90", Q(dora_quantile(RECOVERY, "0.9"))),
                    ("rework", Q(REWORK)),
                    ("history of 30d", Q(COVERAGE_30D)),
                    *[(f"tier {metric}", q) for metric, q in tiers_by_metric],
                    ("tier overall", Q(tier("overall"))),
                ],
                keys=("project",),
                height=12,
                sort_by="tier overall",
                units={
                    "lead p50": "s",
                    "lead p90": "s",
                    "recovery p50": "s",
                    "recovery p90": "s",
                    "change failure": "percentunit",
                    "rework": "percentunit",
                    "history of 30d": "percentunit",
                },
                mappings={
                    name: tier_mappings()
                    for name in [f"tier {m}" for m, _q in tiers_by_metric] + ["tier overall"]
                },
            )
        )
        .with_panel(
            timeseries_panel(
                "Overall tier per project",
                "The selected projects' overall DORA tier over time.",
                [Q(tier("overall"), "{{project}}")],
                span=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Deployments per project ($window)",
                "Successful production deployments in the window.",
                [Q(DEPLOYS, "{{project}}")],
                span=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Deployments in 30 days and overall tier, 90 days",
                "Long-term history of the selection from VictoriaMetrics.",
                [
                    Q(
                        f"sum({selected(series('devmetrics_dora_deployments', window='30d'))})",
                        "deployments (30d)",
                    ),
                    Q(
                        f"avg({selected(series('devmetrics_dora_tier', metric='overall'))})",
                        "mean overall tier",
                    ),
                ],
                span=24,
                reads=Reads.HISTORY,
            )
        )
    )
