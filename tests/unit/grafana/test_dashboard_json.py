"""The committed dashboards: generated from code, valid for the SDK, reading produced series."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from core.catalogue import FAMILIES
from dashboards.catalog import Catalog, load_catalog
from dashboards.kit import PROMETHEUS_UID, VICTORIAMETRICS_UID, Reads
from dashboards.promql import across_projects, aggregations, metric_names, selectors
from dashboards.render import OUTPUT_DIR, render_all, stale_files
from dashboards.validate import (
    PROJECT_FAMILIES,
    check_datasources,
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
    assert stale_files() == [], "run: python -m dashboards"
    for name, text in texts.items():
        assert (OUTPUT_DIR / name).read_text() == text


def test_every_dashboard_validates(texts: dict[str, str], catalog: Catalog) -> None:
    assert validate_texts(texts, catalog) == []


def test_sizes(boards: dict[str, dict[str, Any]]) -> None:
    panels = {
        name: sum(p["type"] != "row" for p in board["panels"]) for name, board in boards.items()
    }
    assert panels == {
        "health.json": 30,  # with the webhook receiver row
        "dora.json": 19,
        "slo.json": 19,
        "project.json": 57,
        "top.json": 14,
        "ai.json": 40,
    }
    assert sum(len(list(queries(board))) for board in boards.values()) == 275


# The recording rules that copied or aggregated exported series, removed: a dashboard reads
# the exported series instead (in VictoriaMetrics where it aggregates across projects).
REMOVED_RULES = (
    "devmetrics:slo_requests:max",
    "devmetrics:slo_requests_good:max",
    "devmetrics:slo_objective:ratio",
    "devmetrics:slo_error_budget_remaining:ratio",
    "devmetrics:slo_sli:ratio",
    "devmetrics:slo_burn_rate:ratio",
    "devmetrics:slo_allowed_errors:count",
    "devmetrics:slo_period_sli:ratio",
    "devmetrics:projects:count",
    "team:devmetrics_projects:count",
    "devmetrics:state_age_seconds:max",
    "devmetrics:dora_tier_projects:count",
    "window:devmetrics_dora_deployments:sum",
    "window:devmetrics_dora_change_failure:ratio",
    "window:devmetrics_dora_rework:ratio",
    "slo_window:devmetrics_slo_sli:ratio",
    "window:devmetrics_slo_burning:count",
    "actor:devmetrics_task_completed:sum",
    "actor:devmetrics_task_success:ratio",
    "actor:devmetrics_task_cost_per_task_usd:ratio",
)


def test_catalog_holds_every_exported_family(catalog: Catalog) -> None:
    # docs/metrics.md reaches Prometheus whole: SLI ratio and burn rate per window, 1d
    # process windows, p90s, cost per task, review iterations, test durations, the cap.
    assert {f.name for f in FAMILIES} <= catalog.exporter
    for once_left_out in (
        "devmetrics_slo_sli_ratio",
        "devmetrics_slo_burn_rate",
        "devmetrics_task_cost_per_task_usd",
        "devmetrics_review_iterations_per_change",
        "devmetrics_test_duration_seconds",
        "devmetrics_project_services_capped",
    ):
        assert once_left_out in catalog.exporter
    assert {
        "devmetrics_exporter_scrape_duration_seconds_sum",
        "devmetrics_exporter_records_rejected_total",
        "devmetrics_exporter_consumer_lag",
        "devmetrics_exporter_projects_capped",
    } <= catalog.exporter
    assert {
        "devmetrics_processor_events_rejected_total",
        "devmetrics_processor_event_to_state_seconds_bucket",
        "devmetrics_processor_consumer_lag",
    } <= catalog.processor
    # Only the shards' own cost is recorded; no rule copies a project's series.
    assert catalog.recorded == {
        "devmetrics:exporter_series:sum",
        "instance:devmetrics_exporter_scrape_duration_seconds:mean5m",
        "devmetrics:exporter_consumer_lag:sum",
    }
    assert not set(REMOVED_RULES) & catalog.names
    assert {"DevmetricsSLOErrorBudgetBurn", "DevmetricsProjectServicesOverCap"} <= catalog.alerts


def test_no_dashboard_reads_a_removed_rule_or_drops_target_labels(
    boards: dict[str, dict[str, Any]],
) -> None:
    for board in boards.values():
        for query in queries(board):
            assert not metric_names(query.expr) & set(REMOVED_RULES), query.where
            assert "without (instance, job)" not in query.expr, query.where


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
        _panel(1, 'devmetrics:slo_sli:ratio{window="1h"}'),
        _panel(2, 'ALERTS{alertname="NoSuchAlert"} or ALERTS{alertname=~"DevmetricsProject.*"}'),
        _panel(3, "sum(rate(devmetrics_processor_events_consumed_total[$__rate_interval]))"),
    )
    assert check_names(board, catalog) == [
        "T: panel 1 'p1' target A: 'devmetrics:slo_sli:ratio' is not produced",
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
    history, fleet = [], Counter[str]()
    for name, board in boards.items():
        variable = board["templating"]["list"][0]
        assert (variable["name"], variable["type"], variable["query"]) == (
            "datasource",
            "datasource",
            "prometheus",
        )
        assert variable["current"]["value"] == PROMETHEUS_UID
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            uid = panel["datasource"]["uid"]
            if uid == VICTORIAMETRICS_UID and "timeFrom" in panel:
                assert panel["timeFrom"] == "90d"
                assert panel["description"].endswith(Reads.HISTORY.value)
                history.append((name, panel["title"]))
            elif uid == VICTORIAMETRICS_UID:
                assert panel["description"].endswith(Reads.FLEET.value)
                fleet[name] += 1
            else:
                assert uid == "${datasource}"
                assert panel["description"].endswith(Reads.SELECTED.value)
    assert sorted(history) == [
        ("ai.json", "Share of tasks completed by AI agents, 90 days"),
        ("dora.json", "Deployments in 30 days and overall tier, 90 days"),
        ("health.json", "Projects reporting, 90 days"),
        ("slo.json", "Deployments during a freeze, 90 days"),
        ("slo.json", "Error budget left, 90 days"),
    ]
    assert fleet == {
        "health.json": 5,
        "dora.json": 15,
        "slo.json": 13,
        "top.json": 14,
        "ai.json": 38,
    }


def test_every_fleet_panel_reads_and_names_victoriametrics(
    boards: dict[str, dict[str, Any]],
) -> None:
    # A fleet panel: one that sums, counts or ranks the series of several projects. With
    # several Prometheus servers each holds only part of the fleet; VictoriaMetrics all of it.
    found = 0
    for board in boards.values():
        for panel in board["panels"]:
            exprs = [t["expr"] for t in panel.get("targets", [])]
            if any(
                {s.name for s in selectors(e)} & PROJECT_FAMILIES and across_projects(e)
                for e in exprs
            ):
                found += 1
                assert panel["datasource"]["uid"] == VICTORIAMETRICS_UID, panel["title"]
                assert "Reads VictoriaMetrics (fleet-wide" in panel["description"], panel["title"]
    assert found == 88  # every VictoriaMetrics panel but the fleet alerts table (ALERTS)
    # Top projects ranks the fleet: its team variable lists every Prometheus server's teams.
    (team,) = [v for v in boards["top.json"]["templating"]["list"] if v["name"] == "team"]
    assert team["datasource"]["uid"] == VICTORIAMETRICS_UID


def test_datasource_problems_are_reported() -> None:
    board = _board(
        _panel(1, 'sum(devmetrics_dora_deployments{window="7d"})'),
        _panel(2, 'topk(5, devmetrics_dora_tier{metric="overall"})', uid=VICTORIAMETRICS_UID),
        _panel(3, 'devmetrics_dora_deployments{project="$project"}', uid="${datasource}"),
        _panel(4, "sum by (project) (devmetrics_dora_deployments)", uid="${datasource}"),
        _panel(5, "sum(up)", uid="${datasource}"),
    )
    for panel in board["panels"]:
        panel["description"] = "Something."
    board["panels"][2]["description"] += " " + Reads.SELECTED.value
    board["panels"][3]["description"] += " " + Reads.SELECTED.value
    board["panels"][4]["description"] += " " + Reads.SELECTED.value
    assert check_datasources(board) == [
        "T: panel 1 'p1': reads neither the selected datasource nor VictoriaMetrics",
        f"T: panel 2 'p2': description does not end with {Reads.FLEET.value!r}",
    ]
    board["panels"][0]["datasource"]["uid"] = "${datasource}"
    board["panels"][0]["description"] += " " + Reads.SELECTED.value
    assert check_datasources(board)[0] == (
        "T: panel 1 'p1' target A: aggregates across projects but reads the selected "
        "datasource, not VictoriaMetrics"
    )


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
        '(devmetrics_dora_deployments{project=~"$project", window="30d"} - '
        'devmetrics_dora_deployments{project=~"$project", window="30d"} offset $__interval) > 0'
    )
    assert annotation["datasource"]["uid"] == "${datasource}"


def test_slo_dashboard_reads_the_exported_slis_and_burn_rates(
    boards: dict[str, dict[str, Any]],
) -> None:
    read = {name for q in queries(boards["slo.json"]) for name in metric_names(q.expr)}
    assert {
        "devmetrics_slo_sli_ratio",
        "devmetrics_slo_burn_rate",
        "devmetrics_slo_error_budget_remaining_ratio",
        "devmetrics_slo_objective_ratio",
        "devmetrics_slo_requests",
        "devmetrics_slo_requests_good",
    } <= read
    exprs = [q.expr for q in queries(boards["slo.json"])]
    assert 'ALERTS{alertname="DevmetricsSLOErrorBudgetBurn", alertstate="firing"}' in exprs
    # Fleet SLIs are traffic-weighted: sums of good over sums of requests.
    assert any(
        e.startswith("sum by (slo, window) (devmetrics_slo_requests_good")
        and "/ (sum by (slo, window) (devmetrics_slo_requests" in e
        for e in exprs
    )


def test_ai_dashboard_splits_every_figure_by_who_did_the_work(
    boards: dict[str, dict[str, Any]],
) -> None:
    """Process figures by actor; the AI-impact figures by the change's author, by AI
    assistance or by agent; every one in the window variable's window (the lineage: 30d)."""
    board = boards["ai.json"]
    for query in queries(board):
        if query.kind == "panel" and "share" not in query.where.lower():
            assert any(
                all(a.keeps(split) for a in aggregations(query.expr))
                for split in ("actor", "author", "ai_assisted", "agent")
            ), query.where
            assert (
                'window="$window"' in query.expr
                or "open_backlog" in query.expr
                or ("devmetrics_lineage_hop_seconds" in query.expr and 'window="30d"' in query.expr)
            ), query.where
    read = {name for query in queries(board) for name in metric_names(query.expr)}
    ai_impact = {
        f.name
        for f in FAMILIES
        if f.name.startswith(("devmetrics_agent_", "devmetrics_lineage_"))
        or any(label in f.labels for label in ("author", "ai_assisted"))
    }
    assert len(ai_impact) == 10  # lead time by author, 3 by assistance, 5 per agent, lineage
    # The agents' success rate over a selection is computed from the summed counts.
    shown = ai_impact - {"devmetrics_agent_task_success_ratio"}
    assert shown | {"devmetrics_dora_ai_change_share_ratio"} <= read
    (window,) = [v for v in board["templating"]["list"] if v["name"] == "window"]
    assert [o["value"] for o in window["options"]] == ["1d", "7d"]
    exprs = " ".join(q.expr for q in queries(board))
    for name in (
        "devmetrics_task_cost_per_task_usd",
        "devmetrics_review_iterations_per_change",
        "devmetrics_test_duration_seconds",
    ):
        assert name in exprs
    # p90s next to p50s for every duration.
    for name in (
        "devmetrics_task_cycle_time_seconds",
        "devmetrics_review_latency_seconds",
        "devmetrics_test_duration_seconds",
        "devmetrics_rfc_time_to_decision_seconds",
    ):
        assert f'{name}{{project=~"$project", window="$window", quantile="0.9"}}' in exprs
