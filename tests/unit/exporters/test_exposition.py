# ruff: noqa: E501 - the expected exposition lines are as long as the format makes them
"""Exact exposition of hand-made snapshots."""

from __future__ import annotations

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.snapshots import sample

from exporters.exposition import (
    assemble,
    escape_label_value,
    format_value,
    render_project,
)
from exporters.series import ServicePolicy
from exporters.snapshot import snapshot_from_record

pytestmark = pytest.mark.unit


def _record(project_id: str, metrics: list[dict], team: str | None = "core") -> dict:
    return {
        "project_id": project_id,
        "as_of": 1_750_000_000_250,
        "computed_at": 1_750_000_001_000,
        "last_event_at": 1_749_999_990_000,
        "events_applied": 1234,
        "team": team,
        "metrics": metrics,
    }


HAND_MADE = _record(
    "alpha",
    [
        sample("devmetrics_dora_deployments", 12, window="7d"),
        sample("devmetrics_dora_lead_time_seconds", 5400.5, window="7d", quantile="0.5"),
        sample("devmetrics_slo_requests", 3000, service="api", slo="availability", window="5m"),
        sample(
            "devmetrics_slo_requests_good", 2997, service="api", slo="availability", window="5m"
        ),
        sample("devmetrics_slo_objective_ratio", 0.999, service="api", slo="availability"),
        sample("devmetrics_slo_sli_ratio", 0.999, service="api", slo="availability", window="5m"),
        sample("devmetrics_task_completed", 4, window="7d", actor="ai_agent"),
        sample("devmetrics_task_completed", 9, window="1d", actor="ai_agent"),
    ],
)

EXPECTED = """\
# HELP devmetrics_project_info Descriptive attributes of a project; value 1.
# TYPE devmetrics_project_info gauge
devmetrics_project_info{project="alpha",team="core"} 1
# HELP devmetrics_state_as_of_timestamp_seconds As-of time T of the project's state: every window ends at T.
# TYPE devmetrics_state_as_of_timestamp_seconds gauge
devmetrics_state_as_of_timestamp_seconds{project="alpha"} 1750000000.25
# HELP devmetrics_state_computed_timestamp_seconds Wall time the project's state snapshot was computed.
# TYPE devmetrics_state_computed_timestamp_seconds gauge
devmetrics_state_computed_timestamp_seconds{project="alpha"} 1750000001
# HELP devmetrics_state_last_event_timestamp_seconds Latest event time folded into the project's state.
# TYPE devmetrics_state_last_event_timestamp_seconds gauge
devmetrics_state_last_event_timestamp_seconds{project="alpha"} 1749999990
# HELP devmetrics_state_events_applied_total Distinct events folded into the project's state.
# TYPE devmetrics_state_events_applied_total counter
devmetrics_state_events_applied_total{project="alpha"} 1234
# HELP devmetrics_dora_deployments Successful production deployments in the window.
# TYPE devmetrics_dora_deployments gauge
devmetrics_dora_deployments{project="alpha",window="7d"} 12
# HELP devmetrics_dora_lead_time_seconds Commit-to-first-deployment time of the changes first deployed in the window.
# TYPE devmetrics_dora_lead_time_seconds summary
devmetrics_dora_lead_time_seconds{project="alpha",quantile="0.5",window="7d"} 5400.5
# HELP devmetrics_slo_objective_ratio The SLO's configured objective.
# TYPE devmetrics_slo_objective_ratio gauge
devmetrics_slo_objective_ratio{project="alpha",service="api",slo="availability"} 0.999
# HELP devmetrics_slo_requests Requests counted by the SLO in the window.
# TYPE devmetrics_slo_requests gauge
devmetrics_slo_requests{project="alpha",service="api",slo="availability",window="5m"} 3000
# HELP devmetrics_slo_requests_good Good requests of the SLO in the window.
# TYPE devmetrics_slo_requests_good gauge
devmetrics_slo_requests_good{project="alpha",service="api",slo="availability",window="5m"} 2997
# HELP devmetrics_slo_sli_ratio Good / total requests of the SLO in the window.
# TYPE devmetrics_slo_sli_ratio gauge
devmetrics_slo_sli_ratio{project="alpha",service="api",slo="availability",window="5m"} 0.999
# HELP devmetrics_task_completed Tasks completed in the window.
# TYPE devmetrics_task_completed gauge
devmetrics_task_completed{project="alpha",actor="ai_agent",window="7d"} 4
devmetrics_task_completed{project="alpha",actor="ai_agent",window="1d"} 9
"""


def test_exact_exposition_of_a_hand_made_snapshot() -> None:
    rendered = render_project(snapshot_from_record(HAND_MADE), ServicePolicy())
    assert assemble([rendered]).decode() == EXPECTED
    # Every sample of the snapshot and the five series of the project's own.
    assert rendered.series == 13
    assert rendered.dropped == {}


def test_families_of_several_projects_stay_grouped() -> None:
    other = dict(HAND_MADE, project_id="beta", team=None)
    projects = [
        render_project(snapshot_from_record(r), ServicePolicy()) for r in (HAND_MADE, other)
    ]
    families = list(text_string_to_metric_families(assemble(projects).decode()))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a family appears in more than one group"
    info = next(f for f in families if f.name == "devmetrics_project_info")
    assert [(s.labels, s.value) for s in info.samples] == [
        ({"project": "alpha", "team": "core"}, 1.0),
        ({"project": "beta"}, 1.0),
    ]
    deployments = next(f for f in families if f.name == "devmetrics_dora_deployments")
    assert [(s.labels["project"], s.value) for s in deployments.samples] == [
        ("alpha", 12.0),
        ("beta", 12.0),
    ]


HOSTILE = ['a"b', "back\\slash", "new\nline", 'all\\"\n', "ünï ☃", "} x 1\n#"]


@pytest.mark.parametrize("project_id", HOSTILE)
def test_hostile_project_ids_round_trip_through_the_parser(project_id: str) -> None:
    record = _record(
        project_id, [sample("devmetrics_dora_deployments", 3, window="1d")], team=project_id
    )
    body = assemble([render_project(snapshot_from_record(record), ServicePolicy())]).decode()
    found = {
        (s.name, s.labels["project"], s.labels.get("team"), s.value)
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if s.name in {"devmetrics_project_info", "devmetrics_dora_deployments"}
    }
    assert found == {
        ("devmetrics_project_info", project_id, project_id, 1.0),
        ("devmetrics_dora_deployments", project_id, None, 3.0),
    }
    assert body.count("\n") == 18  # 6 families of 2 header lines and 1 sample: no stray line


def test_escape_label_value() -> None:
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-2.0, "-2"),
        (0.25, "0.25"),
        (1e-05, "1e-05"),
        (1e15, "1000000000000000.0"),
        (1750000000.25, "1750000000.25"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text
