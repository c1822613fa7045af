"""The template variables several dashboards share: team, project and the DORA window."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from dashboards.kit import Reads, custom_variable, query_variable


def team(multi: bool = True, reads: Reads = Reads.SELECTED) -> db.QueryVariable:
    """Teams, from the info metric (the only series that carries the team)."""
    return query_variable(
        "team", "Team", "label_values(devmetrics_project_info, team)", multi=multi, reads=reads
    )


def project(multi: bool = True) -> db.QueryVariable:
    """Projects of the selected teams."""
    return query_variable(
        "project",
        "Project",
        'label_values(devmetrics_project_info{team=~"$team"}, project)',
        multi=multi,
        include_all=multi,
    )


def window() -> db.CustomVariable:
    """DORA windows; tiers are always over 30d."""
    return custom_variable("window", "Window", ["1d", "7d", "30d"], "30d")


def process_window() -> db.CustomVariable:
    """Windows of the development-process figures."""
    return custom_variable("window", "Window", ["1d", "7d"], "7d")
