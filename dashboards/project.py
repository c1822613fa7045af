"""One project: every series its exporter shard serves, chosen by the project variable.

The panels follow the exporter's family list (exporters.series.FAMILIES), so a family added
there shows up here on the next generation.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from core.catalogue import FAMILIES, META_FAMILIES, SERVICES_CAPPED, Family
from dashboards import variables
from dashboards.kit import (
    PanelBuilder,
    Q,
    dashboard,
    row,
    stat_panel,
    table_panel,
    timeseries_panel,
)

UID = "devmetrics-project"
ONE = 'project="$project"'
# Rows of the per-family panels: (title, family-name prefix).
SECTIONS = (
    ("DORA", "devmetrics_dora_"),
    ("SLO", "devmetrics_slo_"),
    ("Tasks (1d, 7d)", "devmetrics_task_"),
    ("Reviews (1d, 7d)", "devmetrics_review_"),
    ("Tests (1d, 7d)", "devmetrics_test_"),
    ("RFCs (1d, 7d)", "devmetrics_rfc_"),
    ("Agents (1d, 7d)", "devmetrics_agent_"),
    ("Delivery lineage (7d, 30d)", "devmetrics_lineage_"),
)
# Labels that tell a family's series apart, in the order a legend names them.
SPLITS = ("service", "slo", "metric", "actor", "agent", "hop", "author", "ai_assisted")


def _one(name: str) -> str:
    return f"{name}{{{ONE}}}"


def unit_of(name: str) -> str:
    """Grafana unit from the Prometheus naming convention of a family."""
    if name.endswith("_timestamp_seconds"):
        return "dateTimeAsIso"
    for suffix, unit in (("_seconds", "s"), ("_ratio", "percentunit"), ("_usd", "currencyUSD")):
        if name.endswith(suffix):
            return unit
    return ""


def legend_of(family: Family) -> str:
    """Legend naming a family's series by the labels that tell them apart."""
    parts = [f"{{{{{label}}}}}" for label in SPLITS if label in family.label_names]
    if "window" in family.label_names:
        parts.append("{{window}}")
    if family.kind == "summary":
        parts.append("p{{quantile}}")
    return " ".join(parts)


def _family_panel(family: Family) -> PanelBuilder:
    title = family.name.removeprefix("devmetrics_").replace("_", " ")
    return timeseries_panel(
        title,
        f"{family.help} ({family.name})",
        [Q(_one(family.name), legend_of(family))],
        unit=unit_of(family.name),
        span=8,
    )


def build() -> db.Dashboard:
    board = (
        dashboard(
            UID,
            "devmetrics / Project",
            "Everything one project reports: its state's freshness, DORA, SLOs and the "
            "development process by actor.",
            ["project"],
        )
        .with_variable(variables.team())
        .with_variable(variables.project(multi=False))
    )
    board = (
        board.with_row(row("State of $project"))
        .with_panel(
            table_panel(
                "Project",
                "The project's descriptive attributes (devmetrics_project_info).",
                [("info", Q(_one("devmetrics_project_info")))],
                span=8,
                height=4,
            )
        )
        .with_panel(
            stat_panel(
                "State age",
                "Time since the as-of time of the project's state.",
                [Q(f"time() - {_one('devmetrics_state_as_of_timestamp_seconds')}")],
                unit="s",
                steps=((None, "green"), (300, "yellow"), (900, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Last event age",
                "Time since the latest event folded into the state.",
                [Q(f"time() - {_one('devmetrics_state_last_event_timestamp_seconds')}")],
                unit="s",
                steps=((None, "green"), (1800, "red")),
            )
        )
        .with_panel(
            stat_panel(
                "Events applied",
                "Distinct events folded into the project's state.",
                [Q(_one("devmetrics_state_events_applied_total"))],
            )
        )
        .with_panel(
            stat_panel(
                "Services over the cap",
                "Services whose SLOs are not served: above the shards' per-project service cap "
                f"({SERVICES_CAPPED.name}, present only when above 0).",
                [Q(f"{_one(SERVICES_CAPPED.name)} or vector(0)")],
                steps=((None, "green"), (1, "orange")),
            )
        )
        .with_panel(
            timeseries_panel(
                "State times",
                "As-of time, computation time and latest event time of the project's state.",
                [
                    Q(_one(family.name), family.name.removeprefix("devmetrics_state_"))
                    for family in META_FAMILIES
                    if family.name.endswith("_timestamp_seconds")
                ],
                unit="dateTimeAsIso",
                span=12,
            )
        )
        .with_panel(
            timeseries_panel(
                "Events applied per second",
                "Rate at which the project's events reach its state.",
                [
                    Q(
                        f"rate({_one('devmetrics_state_events_applied_total')}[$__rate_interval])",
                        "events/s",
                    )
                ],
                unit="ops",
                span=12,
            )
        )
    )
    for title, prefix in SECTIONS:
        board = board.with_row(row(title))
        for family in FAMILIES:
            if family.name.startswith(prefix):
                board = board.with_panel(_family_panel(family))
    return board
