"""The charts a report draws (`render.draw`), its self-contained HTML page (`render.to_html`)
and the files it writes (`render.write`), on the hand-built reports of conftest.py."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from devmetrics.report.model import Report, Scope
from devmetrics.report.render import Chart, draw, markdown, to_html, write

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n"


def _keys(charts: list[Chart]) -> list[str]:
    return [c.key for c in charts]


# --- draw ---------------------------------------------------------------------------------------


def test_project_charts(project_report: Report) -> None:
    charts = draw(project_report)
    # A line per DORA figure with a trend (not lead_time), no tiers for a project, the budget
    # burn-down, and the AI groups with values (not latency).
    assert _keys(charts) == [
        "dora-deployments",
        "dora-deploy_days",
        "dora-change_failure",
        "slo-budget",
        "ai-throughput",
        "ai-success",
        "ai-cost",
    ]
    assert [c.section for c in charts] == ["dora", "dora", "dora", "slo", "ai", "ai", "ai"]
    assert [c.title for c in charts] == [
        "Deployments",
        "Deploy days per week",
        "Change failure rate",
        "Error budget left",
        "Throughput",
        "Success",
        "Cost",
    ]
    for chart in charts:
        assert chart.png.startswith(PNG), chart.key
        assert len(chart.png) > 1000, chart.key


def test_fleet_charts(fleet_report: Report) -> None:
    # Notes on SLOs and AI: no budget chart and no ai-* chart; the tier mix for the fleet.
    charts = draw(fleet_report)
    assert "slo" in fleet_report.notes
    assert _keys(charts) == ["dora-deployments", "dora-tiers"]
    assert all(c.png.startswith(PNG) for c in charts)


def test_team_charts_have_the_tier_mix_and_the_latency_group(project_report: Report) -> None:
    project_report.scope = Scope("team", "team-a")
    project_report.ai[2].values.update({"ai_agent": 600.0, "human": 7200.0})
    assert _keys(draw(project_report)) == [
        "dora-deployments",
        "dora-deploy_days",
        "dora-change_failure",
        "dora-tiers",
        "slo-budget",
        "ai-throughput",
        "ai-success",
        "ai-latency",
        "ai-cost",
    ]


def test_no_tier_chart_when_no_project_has_a_tier(fleet_report: Report) -> None:
    fleet_report.tier_mix = {"deployment_frequency": {}, "overall": {}}
    assert _keys(draw(fleet_report)) == ["dora-deployments"]


def test_no_budget_chart_without_history(project_report: Report) -> None:
    project_report.budgets = [
        type(b)(b.project, b.service, b.slo, b.remaining, []) for b in project_report.budgets
    ]
    assert "slo-budget" not in _keys(draw(project_report))


def test_no_ai_chart_when_no_figure_has_values(project_report: Report) -> None:
    for figure in project_report.ai:
        figure.values.clear()
    assert _keys(draw(project_report)) == [
        "dora-deployments",
        "dora-deploy_days",
        "dora-change_failure",
        "slo-budget",
    ]


# --- HTML ---------------------------------------------------------------------------------------


def test_html_is_self_contained(project_report: Report) -> None:
    charts = draw(project_report)
    page = to_html(project_report, charts)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
    assert page.endswith("</body></html>\n")
    assert "<title>devmetrics report: project proj-0001</title>" in page
    # Nothing fetched: every src and href is a data URI, none is a URL.
    references = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert len(references) == len(charts) == 7
    assert all(r.startswith("data:image/png;base64,") for r in references)
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page)
    assert "<script" not in page
    assert "<link" not in page
    assert "@import" not in page
    # Each chart embedded, byte for byte, in reading order.
    embedded = re.findall(r'data-chart="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [k for k, _d in embedded] == _keys(charts)
    assert [base64.b64decode(d) for _k, d in embedded] == [c.png for c in charts]


def test_html_charts_follow_their_headings(project_report: Report) -> None:
    page = to_html(project_report, draw(project_report))
    lines = page.splitlines()

    def keys_after(heading: str) -> list[str]:
        following = lines[lines.index(heading) + 1]
        assert following.startswith('<div class="charts">')
        return re.findall(r'data-chart="([^"]+)"', following)

    assert keys_after("<h2>DORA (30d)</h2>") == [
        "dora-deployments",
        "dora-deploy_days",
        "dora-change_failure",
    ]
    assert keys_after("<h2>SLOs</h2>") == ["slo-budget"]
    assert keys_after("<h2>AI agents and people (7d)</h2>") == [
        "ai-throughput",
        "ai-success",
        "ai-cost",
    ]


def test_html_escapes_table_cells(project_report: Report) -> None:
    page = to_html(project_report, draw(project_report))
    assert (
        "<tr><td>proj-0001</td><td>api&lt;v2&gt;</td><td>availability</td><td>25.00%</td></tr>"
        in page
    )
    assert "<v2>" not in page
    assert (
        "<thead><tr><th>metric</th><th>end of period</th><th>previous period</th>"
        "<th>change</th><th>tier</th></tr></thead>"
    ) in page
    assert "<tr><td>Deployments</td><td>42</td><td>40</td><td>+5.0%</td><td>elite</td></tr>" in (
        page
    )
    # The empty tier cell of a figure without a tier metric stays a cell.
    assert (
        "<tr><td>Deploy days per week</td><td>3.50</td><td>3.00</td><td>+16.7%</td><td></td></tr>"
        in page
    )


def test_html_shows_the_notes(fleet_report: Report) -> None:
    page = to_html(fleet_report, draw(fleet_report))
    assert (
        '<p class="note">No SLI data: the fleet has no SLO series at 2026-01-31 00:00 UTC, '
        "so there is no error budget to draw.</p>"
    ) in page
    assert f'<p class="note">{fleet_report.notes["ai"]}</p>' in page
    assert '<p class="note">No burn-rate alert fired in the period.</p>' in page
    assert 'data-chart="slo-budget"' not in page
    assert 'data-chart="ai-' not in page
    assert "<h2>Best and worst projects</h2>" in page
    assert "<tr><td>Deployments (30d)</td><td>proj-a 12, proj-b 9</td><td>proj-z 0</td></tr>" in (
        page
    )
    assert page.endswith(
        '<p class="meta">Generated at 2026-01-31 00:01 UTC in 0.0 s.</p>\n</body></html>\n'
    )


def test_html_escapes_the_header(fleet_report: Report) -> None:
    fleet_report.source = "Prometheus https://a&b:9090"
    page = to_html(fleet_report, [])
    assert "read from Prometheus https://a&amp;b:9090." in page
    assert '<p class="meta">Period 2026-01-01 00:00 UTC' in page


# --- write --------------------------------------------------------------------------------------


def test_write_html(project_report: Report, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    assert write(project_report, "html", out) == [out]
    assert list(tmp_path.rglob("*.*")) == [out]
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("data:image/png;base64,") == 7


def test_write_html_default_name(
    project_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert write(project_report, "html", None) == [Path("devmetrics-report-project-proj-0001.html")]
    assert [p.name for p in tmp_path.iterdir()] == ["devmetrics-report-project-proj-0001.html"]


def test_write_png(project_report: Report, tmp_path: Path) -> None:
    out = tmp_path / "charts"
    written = write(project_report, "png", out)
    keys = _keys(draw(project_report))
    assert written == [out / f"{key}.png" for key in keys]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{key}.png" for key in keys)
    assert all(p.read_bytes().startswith(PNG) for p in written)


def test_write_png_default_folder(
    fleet_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = Path("devmetrics-report-fleet")
    assert write(fleet_report, "png", None) == [
        folder / "dora-deployments.png",
        folder / "dora-tiers.png",
    ]
    assert sorted(p.name for p in (tmp_path / folder).iterdir()) == [
        "dora-deployments.png",
        "dora-tiers.png",
    ]


def test_write_markdown_without_out_writes_nothing(
    project_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert write(project_report, "markdown", None) == []
    assert list(tmp_path.iterdir()) == []


def test_write_markdown_to_a_file(project_report: Report, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "report.md"
    assert write(project_report, "markdown", out) == [out]
    assert out.read_text() == markdown(project_report)
