"""The metric logic through its protocol (`initialize / agg / result`), case by case from
tables of events and hand-computed values, without a broker, a block or a worker."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, H, M, T, as_map, value

from processors.aggregators.metrics import PARTS, Aggregation, Figures
from processors.aggregators.rows import team_mark, to_row
from processors.aggregators.state import ProjectState

pytestmark = pytest.mark.unit

Factory = Callable[..., dict[str, Any]]
# (family, offset from T in ms, fields)
Table = list[tuple[str, int, dict[str, Any]]]
# (series name, labels, value; None: the series must be absent)
Expected = list[tuple[str, dict[str, str], float | None]]

W1D_AI = {"window": "1d", "actor": "ai_agent"}
W1D_HUMAN = {"window": "1d", "actor": "human"}
SLI = {"service": "api", "slo": "availability"}

CASES: dict[str, tuple[tuple[str, ...], Table, Expected]] = {
    # Deployments DORA counts: successful, to production, within (T - W, T].
    "dora deployments": (
        ("dora",),
        [
            ("deployment", -2 * H, {"deployment_id": "d1", "change_ids": ["c1"]}),
            ("deployment", -5 * H, {"deployment_id": "d2", "change_ids": ["c2"]}),
            ("deployment", -H, {"deployment_id": "d3", "status": "failure"}),
            ("deployment", -M, {"deployment_id": "d4", "environment": "staging"}),
            ("deployment", -D, {"deployment_id": "d5"}),  # exactly T - 1d: not in 1d
            ("deployment", -3 * D, {"deployment_id": "d6"}),
            ("deployment", M, {"deployment_id": "d7"}),  # after T
        ],
        [
            ("devmetrics_dora_deployments", {"window": "1d"}, 2.0),
            ("devmetrics_dora_deployments", {"window": "7d"}, 4.0),
            ("devmetrics_dora_deployments", {"window": "30d"}, 4.0),
        ],
    ),
    # Lead time: each change's earliest commit to its first successful production deployment.
    "dora lead time": (
        ("dora",),
        [
            ("change", -5 * H, {"change_id": "c1", "committed_at": T - 6 * H}),
            ("change", -3 * H, {"change_id": "c2", "committed_at": T - 4 * H}),
            ("deployment", -2 * H, {"deployment_id": "d1", "change_ids": ["c1", "c2"]}),
            ("deployment", -H, {"deployment_id": "d2", "change_ids": ["c1"]}),  # not first
        ],
        [
            ("devmetrics_dora_lead_time_seconds", {"window": "1d", "quantile": "0.5"}, 2 * 3600.0),
            ("devmetrics_dora_lead_time_seconds", {"window": "1d", "quantile": "0.9"}, 4 * 3600.0),
        ],
    ),
    # Tasks by actor: completed, failed, success ratio, cost.
    "process tasks": (
        ("process",),
        [
            ("task", -5 * H, {"task_id": "t1", "type": "started", "actor": "ai_agent"}),
            ("task", -H, {"task_id": "t1", "type": "completed", "actor": "ai_agent"}),
            ("task", -2 * H, {"task_id": "t2", "type": "failed", "actor": "ai_agent"}),
            ("task", -3 * H, {"task_id": "t3", "type": "completed", "cost_usd": 0.5}),
        ],
        [
            ("devmetrics_task_completed", W1D_AI, 1.0),
            ("devmetrics_task_failed", W1D_AI, 1.0),
            ("devmetrics_task_success_ratio", W1D_AI, 0.5),
            ("devmetrics_task_cycle_time_seconds", {**W1D_AI, "quantile": "0.5"}, 4 * 3600.0),
            ("devmetrics_task_completed", W1D_HUMAN, 1.0),
            ("devmetrics_task_cost_usd", W1D_HUMAN, 0.5),
            ("devmetrics_task_cycle_time_seconds", {**W1D_HUMAN, "quantile": "0.5"}, None),
        ],
    ),
    # SLI samples: counts over the window by interval end; the built-in availability SLO.
    "slo availability": (
        ("slo",),
        [
            ("sli", -10 * M, {"requests_total": 100, "requests_good": 99}),
            ("sli", -4 * M, {"requests_total": 50, "requests_good": 50}),
            ("sli", -2 * H, {"requests_total": 1000, "requests_good": 990}),
        ],
        [
            ("devmetrics_slo_requests", {**SLI, "window": "5m"}, 50.0),
            ("devmetrics_slo_requests", {**SLI, "window": "30m"}, 150.0),
            ("devmetrics_slo_requests_good", {**SLI, "window": "1d"}, 1139.0),
            ("devmetrics_slo_sli_ratio", {**SLI, "window": "1d"}, 1139 / 1150),
            ("devmetrics_slo_objective_ratio", SLI, 0.999),
        ],
    ),
}


def _events(make_event: Factory, table: Table) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for family, offset, table_fields in table:
        fields = dict(table_fields)
        if family == "sli":
            fields.setdefault("service", "api")
            fields.setdefault("latency_buckets", [])
        events.append((family, make_event(family, T + offset, **fields)))
    return events


def _run(aggregation: Aggregation[Any], events: list[tuple[str, dict[str, Any]]]) -> Any:
    state = aggregation.initialize("p1")
    for family, record in events:
        row = to_row(family, record)
        state = aggregation.agg(state, row, team_mark(row, record))
    return state


@pytest.mark.parametrize("case", list(CASES))
def test_the_table_gives_the_hand_computed_values(case: str, make_event: Factory) -> None:
    parts, table, expected = CASES[case]
    aggregation = Figures(parts=parts)
    events = _events(make_event, table)
    state = _run(aggregation, events)
    assert isinstance(state, ProjectState)
    samples = aggregation.result(state, T)
    for name, labels, want in expected:
        assert value(samples, name, **labels) == want, (name, labels)
    # The same rows in another order give the same state; reading it changes nothing.
    shuffled = events[:]
    random.Random(case).shuffle(shuffled)
    assert as_map(aggregation.result(_run(aggregation, shuffled), T)) == as_map(samples)
    assert as_map(aggregation.result(state, T)) == as_map(samples)


def test_groups_add_up_to_the_whole(make_event: Factory) -> None:
    """Each group's result is its part of the full snapshot, and the parts cover it."""
    events = [e for _, table, _ in CASES.values() for e in _events(make_event, table)]
    whole = as_map(Figures().result(_run(Figures(), events), T))
    union: dict[Any, float] = {}
    for part in PARTS:
        aggregation = Figures(parts=(part,))
        union.update(as_map(aggregation.result(_run(aggregation, events), T)))
    assert union == whole


def test_an_unknown_group_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown figure groups"):
        Figures(parts=("dora", "velocity"))
