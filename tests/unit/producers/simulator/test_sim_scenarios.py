"""Scenarios: their syntax, the default choice, and that each moves its project's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from producers.simulator import (
    SCENARIOS,
    ScenarioError,
    ScenarioRequest,
    ScenarioSpan,
    SimConfig,
    default_requests,
    generate_project,
    load_scenario_file,
    parse_scenario,
    project_spec,
    resolve_requests,
)
from producers.simulator.model import DAY_MS, HOUR_MS, MINUTE_MS
from producers.simulator.truth import compute_metrics, metric_value

pytestmark = pytest.mark.unit

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SEED = 3
CONFIG = SimConfig(seed=SEED, start_ms=T - 14 * DAY_MS, end_ms=T)

# --- syntax ---------------------------------------------------------------------------


def test_parse_relative_span() -> None:
    request = parse_scenario("error_spike:proj-0003,proj-0010:-2h..now")
    assert request == ScenarioRequest("error_spike", ("proj-0003", "proj-0010"), "-2h", "now")
    assert request.resolve(T) == (T - 2 * HOUR_MS, T)


def test_parse_iso_span_with_colons_and_compound_offsets() -> None:
    request = parse_scenario("flaky_tests:*:2025-12-30T12:00:00Z..-1d")
    assert request.projects is None
    assert request.resolve(T) == (T - 36 * HOUR_MS, T - DAY_MS)
    assert parse_scenario("flaky_tests:*:-1d12h..+30m").resolve(T) == (
        T - 36 * HOUR_MS,
        T + 30 * MINUTE_MS,
    )


def test_default_spans_end_at_t_in_backfill_and_start_at_anchor_in_live() -> None:
    request = parse_scenario("project_silent:proj-0001")
    assert request.resolve(T) == (T - 6 * HOUR_MS, T)
    assert request.resolve(T, forward=True) == (T, T + 6 * HOUR_MS)
    assert parse_scenario("error_spike:proj-0001:-30m..").resolve(T) == (
        T - 30 * MINUTE_MS,
        T - 30 * MINUTE_MS + 2 * HOUR_MS,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("error_spike", "NAME:PROJECTS"),
        ("nope:proj-0001", "unknown scenario"),
        ("error_spike:proj-0001:-2h", "START..END"),
        ("error_spike:proj-0001:yesterday..now", "not 'now'"),
        ("error_spike:proj-0001:2025-12-30T12:00:00..now", "no time zone"),
        ("error_spike:proj-0001:now..-1h", "before its end"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text).resolve(T)


def test_unknown_project_is_named() -> None:
    with pytest.raises(ScenarioError, match="proj-0099"):
        resolve_requests([parse_scenario("error_spike:proj-0099")], ["proj-0001"], T)


def test_scenario_file_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "s.yaml"
    yml.write_text(
        "scenarios:\n"
        "  - {name: deployment_freeze, projects: [proj-0002], start: -3d, end: now}\n"
        "  - {name: error_spike, projects: '*'}\n"
    )
    jsn = tmp_path / "s.json"
    jsn.write_text('{"scenarios": [{"name": "review_backlog", "projects": ["proj-0001"]}]}')
    spans = resolve_requests(
        load_scenario_file(yml) + load_scenario_file(jsn), ["proj-0001", "proj-0002"], T
    )
    assert spans == {
        "proj-0002": [
            ScenarioSpan("deployment_freeze", T - 3 * DAY_MS, T),
            ScenarioSpan("error_spike", T - 2 * HOUR_MS, T),
        ],
        "proj-0001": [
            ScenarioSpan("error_spike", T - 2 * HOUR_MS, T),
            ScenarioSpan("review_backlog", T - 2 * DAY_MS, T),
        ],
    }


def test_scenario_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios: [{projects: [proj-0001]}]")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: entry 0"):
        load_scenario_file(bad)


def test_default_choice_covers_every_problem_scenario_deterministically() -> None:
    requests = default_requests(200, seed=7)
    assert requests == default_requests(200, seed=7)
    assert requests != default_requests(200, seed=8)
    names = [r.name for r in requests]
    assert {n: names.count(n) for n in set(names)} == {s: 3 for s in SCENARIOS if s != "normal"}
    projects = [p for r in requests for p in r.projects or ()]
    assert len(projects) == len(set(projects)) == 27
    assert len(default_requests(1000, seed=7)) == 45


# --- effects: the same project with and without the scenario --------------------------


def first_project(tier: str) -> int:
    return next(i for i in range(1, 100) if project_spec(SEED, i).tier == tier)


ELITE = first_project("elite")


def truth_of(index: int, *spans: ScenarioSpan) -> tuple[list[Any], list[Any]]:
    events = generate_project(project_spec(SEED, index), CONFIG, spans)
    return events, compute_metrics(events, T)


def span(name: str, duration_ms: int) -> ScenarioSpan:
    return ScenarioSpan(name, T - duration_ms, T)


def value(metrics: list[Any], name: str, **labels: str) -> float:
    found = metric_value(metrics, name, **labels)
    assert found is not None, (name, labels)
    return found


def test_normal_changes_nothing() -> None:
    assert truth_of(ELITE)[0] == truth_of(ELITE, span("normal", 14 * DAY_MS))[0]


def test_failing_deployments_raise_change_failure_ratio() -> None:
    _, base = truth_of(ELITE)
    _, hit = truth_of(ELITE, span("failing_deployments", 7 * DAY_MS))
    name = "devmetrics_dora_change_failure_ratio"
    assert value(hit, name, window="7d") > max(0.3, value(base, name, window="7d"))


def test_error_spike_pages_on_1h_and_5m_availability_burn() -> None:
    spec = project_spec(SEED, ELITE)
    _, base = truth_of(ELITE)
    _, hit = truth_of(ELITE, span("error_spike", 2 * HOUR_MS))
    for service in spec.services:
        for window in ("1h", "5m"):
            labels = {"service": service.name, "slo": "availability", "window": window}
            assert value(hit, "devmetrics_slo_burn_rate", **labels) > 14.4
            assert value(base, "devmetrics_slo_burn_rate", **labels) < 14.4


def test_latency_regression_is_a_slow_burn() -> None:
    spec = project_spec(SEED, ELITE)
    _, base = truth_of(ELITE)
    _, hit = truth_of(ELITE, span("latency_regression", DAY_MS))
    for service in spec.services:
        for window in ("6h", "1d"):
            labels = {"service": service.name, "slo": "latency", "window": window}
            assert 1.0 < value(hit, "devmetrics_slo_burn_rate", **labels) < 6.0
            assert value(base, "devmetrics_slo_burn_rate", **labels) < 1.0


def test_deployment_freeze_stops_deployments_in_the_span() -> None:
    _, base = truth_of(ELITE)
    events, hit = truth_of(ELITE, span("deployment_freeze", 3 * DAY_MS))
    in_span = [e for f, e in events if f == "deployment" and e["occurred_at"] > T - 3 * DAY_MS]
    assert in_span == []
    assert value(hit, "devmetrics_dora_deployments", window="1d") == 0.0
    assert value(base, "devmetrics_dora_deployments", window="1d") > 0.0


def test_project_silent_has_no_events_in_the_span() -> None:
    base_events, _ = truth_of(ELITE)
    events, hit = truth_of(ELITE, span("project_silent", 6 * HOUR_MS))
    assert [e for _, e in events if e["occurred_at"] > T - 6 * HOUR_MS] == []
    assert any(e["occurred_at"] > T - 6 * HOUR_MS for _, e in base_events)
    service = project_spec(SEED, ELITE).services[0].name
    labels = {"service": service, "slo": "availability", "window": "6h"}
    assert value(hit, "devmetrics_slo_requests", **labels) == 0.0
    assert metric_value(hit, "devmetrics_slo_sli_ratio", **labels) is None


def test_flaky_tests_raise_flaky_ratio() -> None:
    _, base = truth_of(ELITE)
    _, hit = truth_of(ELITE, span("flaky_tests", 2 * DAY_MS))
    labels = {"window": "1d", "actor": "ai_agent"}
    before = value(base, "devmetrics_test_flaky_ratio", **labels)
    assert value(hit, "devmetrics_test_flaky_ratio", **labels) > 5 * max(before, 0.001)


def test_agent_failure_loop_lowers_ai_success_and_raises_cost() -> None:
    _, base = truth_of(ELITE)
    _, hit = truth_of(ELITE, span("agent_failure_loop", DAY_MS))
    labels = {"window": "1d", "actor": "ai_agent"}
    assert value(hit, "devmetrics_task_success_ratio", **labels) < 0.5
    assert value(hit, "devmetrics_task_success_ratio", **labels) < value(
        base, "devmetrics_task_success_ratio", **labels
    )
    assert value(hit, "devmetrics_task_failed", **labels) > value(
        base, "devmetrics_task_failed", **labels
    )


def test_review_backlog_raises_latency_and_leaves_reviews_open() -> None:
    base_events, base = truth_of(ELITE)
    # A week-long backlog read over the 7d window: a day holds too few reviews to compare.
    events, hit = truth_of(ELITE, span("review_backlog", 7 * DAY_MS))

    def open_reviews(evs: list[Any]) -> int:
        requested = {e["review_id"] for f, e in evs if f == "review" and e["type"] == "requested"}
        done = {e["review_id"] for f, e in evs if f == "review" and e["type"] == "completed"}
        return len(requested - done)

    assert open_reviews(events) > open_reviews(base_events) + 5
    labels = {"window": "7d", "actor": "ai_agent", "quantile": "0.9"}
    assert value(hit, "devmetrics_review_latency_seconds", **labels) > 2 * value(
        base, "devmetrics_review_latency_seconds", **labels
    )


def test_incident_storm_raises_incidents_and_recoveries() -> None:
    base_events, base = truth_of(ELITE)
    events, hit = truth_of(ELITE, span("incident_storm", 12 * HOUR_MS))

    def opened(evs: list[Any]) -> int:
        return sum(
            1
            for f, e in evs
            if f == "incident" and e["type"] == "opened" and e["occurred_at"] > T - 12 * HOUR_MS
        )

    assert opened(events) >= opened(base_events) + 6
    assert value(hit, "devmetrics_dora_change_failure_ratio", window="1d") > value(
        base, "devmetrics_dora_change_failure_ratio", window="1d"
    )
    assert metric_value(hit, "devmetrics_dora_recovery_time_seconds", window="1d", quantile="0.5")
