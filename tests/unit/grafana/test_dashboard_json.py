"""The committed dashboards: generated from code, valid for the SDK, reading produced series."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporters.budget import FAMILIES
from exporters.dashboards import OUTPUT_DIR, render_all, stale_files
from exporters.dashboards.catalog import Catalog, load_catalog
from exporters.dashboards.kit import PROMETHEUS_UID, VICTORIAMETRICS_UID
from exporters.dashboards.promql import metric_names
from exporters.dashboards.validate import (
    check_names,
    check_round_trip,
    check_structure,
    provisioned_uids,
    queries,
    validate_texts,
)

pytestmark = pytest.mark.unit

FILES = ("health.json", "dora.json", "slo.json", "project.json", "top.json", "ai.json")


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return render_all()


@pytest.fixture(scope="module")
def boards(texts: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in texts.items()}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_committed_json_is_what_the_code_generates(texts: dict[str, str]) -> None:
    assert sorted(p.name for p in OUTPUT_DIR.glob("*.json")) == sorted(FILES)
    assert stale_files() == [], "run: python -m exporters.dashboards"
    for name, text in texts.items():
        assert (OUTPUT_DIR / name).read_text() == text


def test_every_dashboard_validates(texts: dict[str, str], catalog: Catalog) -> None:
    assert validate_texts(texts, catalog) == []


def test_sizes(boards: dict[str, dict[str, Any]]) -> None:
    panels = {
        name: sum(p["type"] != "row" for p in board["panels"]) for name, board in boards.items()
    }
    assert panels == {
        "health.json": 25,
        "dora.json": 18,
        "slo.json": 14,
        "project.json": 38,
        "top.json": 14,
        "ai.json": 24,
    }
    assert sum(len(list(queries(board))) for board in boards.values()) == 198


def test_catalog_is_the_exported_subset(catalog: Catalog) -> None:
    # docs/exporters.md: SLI ratio and burn rate are derived by Prometheus, not exported;
    # 1d process windows, cost per task, review iterations and test durations stay in state.
    for kept_in_state in (
        "devmetrics_slo_sli_ratio",
        "devmetrics_slo_burn_rate",
        "devmetrics_task_cost_per_task_usd",
        "devmetrics_review_iterations_per_change",
        "devmetrics_test_duration_seconds",
    ):
        assert kept_in_state not in catalog.names
    assert {f.name for f in FAMILIES} <= catalog.exporter
    assert {
        "devmetrics_exporter_scrape_duration_seconds_sum",
        "devmetrics_exporter_records_rejected_total",
        "devmetrics_exporter_consumer_lag",
    } <= catalog.exporter
    assert {
        "devmetrics_processor_events_rejected_total",
        "devmetrics_processor_event_to_state_seconds_bucket",
        "devmetrics_processor_consumer_lag",
    } <= catalog.processor
    assert {
        "devmetrics:slo_burn_rate:ratio",
        "team:devmetrics_projects:count",
        "actor:devmetrics_task_success:ratio",
    } <= catalog.recorded
    assert "DevmetricsSLOErrorBudgetBurn" in catalog.alerts


def _board(*panels: dict[str, Any], variables: tuple[str, ...] = ("datasource",)) -> dict:
    return {
        "uid": "t",
        "title": "T",
        "schemaVersion": 39,
        "panels": list(panels),
        "templating": {"list": [{"name": v, "type": "custom"} for v in variables]},
    }


def _panel(pid: int, expr: str, x: int = 0, y: int = 0, w: int = 12, uid: str = "prometheus"):
    return {
        "id": pid,
        "type": "timeseries",
        "title": f"p{pid}",
        "gridPos": {"x": x, "y": y, "w": w, "h": 8},
        "datasource": {"type": "prometheus", "uid": uid},
        "targets": [{"refId": "A", "expr": expr}],
    }


def test_names_not_produced_are_reported(catalog: Catalog) -> None:
    board = _board(
        _panel(1, 'devmetrics_slo_sli_ratio{window="1h"}'),
        _panel(2, 'ALERTS{alertname="NoSuchAlert"} or ALERTS{alertname=~"DevmetricsProject.*"}'),
        _panel(3, "sum(rate(devmetrics_processor_events_consumed_total[$__rate_interval]))"),
    )
    assert check_names(board, catalog) == [
        "T: panel 1 'p1' target A: 'devmetrics_slo_sli_ratio' is not produced",
        "T: panel 2 'p2' target A: alertname ='NoSuchAlert' matches no alert rule",
    ]


def test_structure_problems_are_reported() -> None:
    board = _board(
        _panel(1, "up", w=12),
        _panel(2, "up", x=6, w=12),  # overlaps panel 1
        _panel(3, "up", x=20, y=8, w=8),  # wider than the grid
        _panel(3, "up{project=~'$project'}", y=16, uid="elsewhere"),
    )
    assert check_structure(board, provisioned_uids()) == [
        "T: panel 2 'p2': overlaps T: panel 1 'p1'",
        "T: panel 3 'p3': gridPos {'x': 20, 'y': 8, 'w': 8, 'h': 8} wider than 24 columns",
        "T: panel 3 'p3': id missing, below 1 or repeated",
        "T: panel 3 'p3': datasource uid 'elsewhere' not provisioned",
        "T: uses $project, which is not a variable of the dashboard",
    ]


def test_a_key_the_sdk_does_not_know_fails_the_round_trip(texts: dict[str, str]) -> None:
    board = json.loads(texts["dora.json"])
    assert check_round_trip(texts["dora.json"], "dora.json") == []
    board["panels"][1]["gridPos"]["width"] = 3
    text = json.dumps(board, sort_keys=True, indent=2) + "\n"
    assert check_round_trip(text, "dora.json") == [
        "dora.json: changes when decoded by the SDK models"
    ]


def test_datasources(boards: dict[str, dict[str, Any]]) -> None:
    assert provisioned_uids() == {PROMETHEUS_UID, VICTORIAMETRICS_UID}
    long_range = []
    for name, board in boards.items():
        variable = board["templating"]["list"][0]
        assert (variable["name"], variable["type"], variable["query"]) == (
            "datasource",
            "datasource",
            "prometheus",
        )
        assert variable["current"]["value"] == PROMETHEUS_UID
        for panel in board["panels"]:
            uid = panel.get("datasource", {}).get("uid")
            if uid == VICTORIAMETRICS_UID:
                assert panel["timeFrom"] == "90d"
                long_range.append((name, panel["title"]))
            elif panel["type"] != "row":
                assert uid == "${datasource}"
    assert sorted(long_range) == [
        ("ai.json", "Share of tasks completed by AI agents, 90 days"),
        ("dora.json", "Deployments in 30 days and overall tier, 90 days"),
        ("health.json", "Projects reporting, 90 days"),
        ("slo.json", "Error budget left, 90 days"),
    ]


def test_project_dashboard_shows_every_exported_family(boards: dict[str, dict[str, Any]]) -> None:
    read = {
        selector
        for query in queries(boards["project.json"])
        if query.kind == "panel"
        for selector in metric_names(query.expr)
    }
    assert {f.name for f in FAMILIES} <= read
    for query in queries(boards["project.json"]):
        if query.kind == "panel":
            assert 'project="$project"' in query.expr, query.where


def test_dora_annotates_deployments_and_uses_team_and_project(
    boards: dict[str, dict[str, Any]],
) -> None:
    board = boards["dora.json"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["team"]["query"]["query"] == "label_values(devmetrics_project_info, team)"
    assert (
        variables["project"]["query"]["query"]
        == 'label_values(devmetrics_project_info{team=~"$team"}, project)'
    )
    (annotation,) = board["annotations"]["list"]
    assert annotation["name"] == "Deployments"
    assert annotation["expr"] == (
        '(max without (instance, job) (devmetrics_dora_deployments{project=~"$project", '
        'window="30d"}) - max without (instance, job) (devmetrics_dora_deployments'
        '{project=~"$project", window="30d"} offset $__interval)) > 0'
    )


def test_slo_dashboard_reads_burn_rates_and_alerts(boards: dict[str, dict[str, Any]]) -> None:
    exprs = [q.expr for q in queries(boards["slo.json"])]
    assert any("devmetrics:slo_burn_rate:ratio" in e for e in exprs)
    assert any("devmetrics:slo_error_budget_remaining:ratio" in e for e in exprs)
    assert 'ALERTS{alertname="DevmetricsSLOErrorBudgetBurn", alertstate="firing"}' in exprs


def test_ai_dashboard_splits_every_figure_by_actor(boards: dict[str, dict[str, Any]]) -> None:
    for query in queries(boards["ai.json"]):
        if query.kind == "panel" and "share" not in query.where.lower():
            assert "by (actor)" in query.expr or query.expr.startswith("actor:"), query.where
