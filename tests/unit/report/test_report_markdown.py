"""The Markdown of hand-built reports (see conftest.py): every line of a project report, and
the fleet report's tier mix, rankings and notes."""

from __future__ import annotations

import dataclasses

import pytest

from devmetrics.report.model import Figure, Report, Scope, Unit
from devmetrics.report.render import ALERTS_SHOWN, markdown

pytestmark = pytest.mark.unit

START = 1_767_225_600.0

PROJECT_MARKDOWN = """\
# devmetrics report: project proj-0001

Period 2026-01-01 00:00 UTC to 2026-01-31 00:00 UTC (30 days); 1 project; read from \
VictoriaMetrics http://localhost:8428. DORA figures over the 30d window and development \
figures over the 7d window, at the end of the period; previous = at its start.

## DORA (30d)

| metric | end of period | previous period | change | tier |
|---|---|---|---|---|
| Deployments | 42 | 40 | +5.0% | elite |
| Deploy days per week | 3.50 | 3.00 | +16.7% |  |
| Lead time p50 | 2.00 h | 2.50 h | -20.0% | high |
| Change failure rate | 12.50% | 10.00% | +2.50 pt | - |

No data in the period, so no trend line: Lead time p50.

| tier metric | tier |
|---|---|
| deployment frequency | elite |
| lead time | high |
| change failure rate | - |
| recovery time | - |
| overall | high |

## SLOs

3 SLOs, 0 overspent:

| project | service | SLO | error budget left |
|---|---|---|---|
| proj-0001 | api<v2> | availability | 25.00% |

Burn-rate alerts fired in the period for 1 SLOs:

| project | service | SLO | alert tiers | first seen | last seen |
|---|---|---|---|---|---|
| proj-0001 | api<v2> | availability | page-fast, ticket-slow | 2026-01-01 01:00 UTC \
| 2026-01-01 02:00 UTC |

## AI agents and people (7d)

| figure | AI agents | people |
|---|---|---|
| Tasks completed | 120 | 80 |
| Task success rate | 90.00% | 95.00% |
| Task cycle time p50 (median project) | no data | no data |
| Cost per completed task | $1,234.50 | no data |
"""


def test_project_report_markdown(project_report: Report) -> None:
    assert markdown(project_report) == PROJECT_MARKDOWN


def test_project_report_has_a_tier_column_and_no_ranking(project_report: Report) -> None:
    text = markdown(project_report)
    assert "| Deployments | 42 | 40 | +5.0% | elite |" in text.splitlines()
    assert "Best and worst" not in text
    assert "tier (projects)" not in text


def test_fleet_report_markdown(fleet_report: Report) -> None:
    lines = markdown(fleet_report).splitlines()
    assert lines[0] == "# devmetrics report: the fleet"
    assert lines[2].startswith(
        "Period 2026-01-01 00:00 UTC to 2026-01-31 00:00 UTC (30 days); 12 projects; read from "
    )
    dora = lines.index("## DORA (30d)")
    assert lines[dora + 2 : dora + 6] == [
        "| metric | end of period | previous period | change |",  # no tier column
        "|---|---|---|---|",
        "| Deployments | 1200 | 1000 | +20.0% |",
        "| Rework rate (weighted by deployments) | no data | no data | n/a |",
    ]
    assert lines[dora + 7] == (
        "No data in the period, so no trend line: Rework rate (weighted by deployments)."
    )
    # Projects per tier, elite first; a tier no project stands at counts 0.
    tiers = lines.index("| tier (projects) | elite | high | medium | low |")
    assert lines[tiers + 1 : tiers + 4] == [
        "|---|---|---|---|---|",
        "| deployment frequency | 5 | 4 | 0 | 3 |",
        "| overall | 0 | 7 | 5 | 0 |",
    ]
    ranking = lines.index("## Best and worst projects")
    assert lines[ranking + 1 :] == [
        "",
        "| figure | best | worst |",
        "|---|---|---|",
        "| Deployments (30d) | proj-a 12, proj-b 9 | proj-z 0 |",
        "| Error budget left (SLO period) | no data | no data |",
    ]


def test_notes_replace_the_sections_without_data(fleet_report: Report) -> None:
    lines = markdown(fleet_report).splitlines()
    slo = lines.index("## SLOs")
    assert lines[slo + 1 : slo + 6] == [
        "",
        fleet_report.notes["slo"],
        "",
        "No burn-rate alert fired in the period.",
        "",
    ]
    ai = lines.index("## AI agents and people (7d)")
    assert lines[ai + 1 : ai + 4] == ["", fleet_report.notes["ai"], ""]
    assert "| figure | AI agents | people |" not in lines
    assert "| project | service | SLO | error budget left |" not in lines


def test_a_dora_note_replaces_the_dora_table(fleet_report: Report) -> None:
    fleet_report.notes["dora"] = "No DORA data: no DORA series of the fleet in the period."
    lines = markdown(fleet_report).splitlines()
    dora = lines.index("## DORA (30d)")
    assert lines[dora + 1 : dora + 4] == ["", fleet_report.notes["dora"], ""]
    assert "| metric | end of period | previous period | change |" not in lines


def test_team_report_lists_its_lowest_budgets(project_report: Report) -> None:
    project_report.scope = Scope("team", "team-a")
    project_report.slos, project_report.overspent = 40, 2
    lines = markdown(project_report).splitlines()
    assert "40 SLOs, 2 overspent, the 1 lowest:" in lines
    assert lines[0] == "# devmetrics report: team team-a"
    assert "## Best and worst projects" in lines


def test_pipes_in_cells_are_escaped(project_report: Report) -> None:
    project_report.dora = [Figure("x", "a|b", Unit.COUNT, "q", 1.0, 1.0)]
    assert "| a\\|b | 1 | 1 | +0.0% |  |" in markdown(project_report).splitlines()


def test_at_most_30_alerts_are_listed(project_report: Report) -> None:
    alert = project_report.alerts[0]
    project_report.alerts = [
        dataclasses.replace(alert, slo=f"slo-{i:02d}", first=START + i) for i in range(32)
    ]
    lines = markdown(project_report).splitlines()
    assert ALERTS_SHOWN == 30
    assert "Burn-rate alerts fired in the period for 32 SLOs; the first 30 (pages first):" in lines
    rows = [line for line in lines if line.startswith("| proj-0001 | api<v2> | slo-")]
    assert len(rows) == 30
    assert rows[-1].startswith("| proj-0001 | api<v2> | slo-29 |")


def test_projects_plural_and_no_alert_says_so(project_report: Report) -> None:
    project_report.alerts = []
    project_report.projects = 2
    text = markdown(project_report)
    assert "; 2 projects; " in text
    assert "No burn-rate alert fired in the period." in text.splitlines()
    assert "| project | service | SLO | alert tiers | first seen | last seen |" not in text
