"""RFC, task, review and test figures against hand-computed cases, split by actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, H, M, T, value

from processors.aggregators import ProjectLedger, Sample

pytestmark = pytest.mark.unit

Factory = Callable[..., dict[str, Any]]
AI, HUMAN = "ai_agent", "human"


def _snapshot(events: list[tuple[str, dict[str, Any]]]) -> list[Sample]:
    ledger = ProjectLedger("p1")
    for family, event in events:
        assert ledger.fold(family, event)
    return ledger.snapshot(T)


@pytest.fixture
def rfc(make_event: Factory) -> list[Sample]:
    e = lambda t, i, kind, actor=HUMAN, **kw: (  # noqa: E731
        "rfc",
        make_event("rfc", t, rfc_id=i, type=kind, actor=actor, **kw),
    )
    return _snapshot(
        [
            e(T - 2 * D, "r1", "submitted"),
            e(T - 12 * H, "r1", "submitted", AI),  # a second submitted event: counted, not earliest
            e(T - 1 * H, "r1", "decided", AI, decision="accepted"),
            e(T - 3 * H, "r2", "submitted"),
            e(T - 2 * H, "r2", "decided", decision="changes_requested"),  # not final
            e(T - 8 * D, "r3", "submitted"),
            e(T - 30 * M, "r5", "decided", decision="rejected"),  # submission unknown
            e(T - 1 * M, "r6", "submitted", AI),
            e(T + 1 * M, "r6", "decided", AI, decision="accepted"),  # after T
        ]
    )


def test_rfc_counts_and_acceptance(rfc: list[Sample]) -> None:
    assert value(rfc, "devmetrics_rfc_submitted", window="1d", actor=HUMAN) == 1.0  # r2
    assert value(rfc, "devmetrics_rfc_submitted", window="1d", actor=AI) == 2.0  # r1, r6
    assert value(rfc, "devmetrics_rfc_submitted", window="7d", actor=HUMAN) == 2.0  # r1, r2
    assert value(rfc, "devmetrics_rfc_decided", window="1d", actor=AI) == 1.0
    assert value(rfc, "devmetrics_rfc_decided", window="1d", actor=HUMAN) == 1.0
    assert value(rfc, "devmetrics_rfc_acceptance_ratio", window="1d", actor=AI) == 1.0
    assert value(rfc, "devmetrics_rfc_acceptance_ratio", window="1d", actor=HUMAN) == 0.0


def test_rfc_time_to_decision_and_backlog(rfc: list[Sample]) -> None:
    ttd = "devmetrics_rfc_time_to_decision_seconds"
    assert value(rfc, ttd, window="1d", actor=AI, quantile="0.5") == 47 * 3600.0
    assert value(rfc, ttd, window="1d", actor=HUMAN, quantile="0.5") is None
    # open: r2 (only changes requested), r3 (undecided), r6 (decided after T)
    assert value(rfc, "devmetrics_rfc_open_backlog", actor=HUMAN) == 2.0
    assert value(rfc, "devmetrics_rfc_open_backlog", actor=AI) == 1.0


@pytest.fixture
def tasks(make_event: Factory) -> list[Sample]:
    e = lambda t, i, kind, actor, **kw: (  # noqa: E731
        "task",
        make_event("task", t, task_id=i, type=kind, actor=actor, **kw),
    )
    return _snapshot(
        [
            e(T - 5 * H, "t1", "started", AI),
            e(T - 4 * H, "t1", "started", AI),  # a retry: not the earliest
            e(T - 1 * H, "t1", "completed", AI, cost_usd=0.5),
            e(T - 2 * D, "t2", "started", HUMAN),
            e(T - 30 * H, "t2", "failed", HUMAN, cost_usd=0.25),
            e(T - 2 * H, "t2", "completed", HUMAN),
            e(T - 3 * H, "t3", "completed", AI, cost_usd=1.25),  # start unknown
        ]
    )


def test_task_figures(tasks: list[Sample]) -> None:
    one_ai, one_h, week_h = (
        {"window": "1d", "actor": AI},
        {"window": "1d", "actor": HUMAN},
        {"window": "7d", "actor": HUMAN},
    )
    assert value(tasks, "devmetrics_task_completed", **one_ai) == 2.0
    assert value(tasks, "devmetrics_task_failed", **one_ai) == 0.0
    assert value(tasks, "devmetrics_task_success_ratio", **one_ai) == 1.0
    cycle = "devmetrics_task_cycle_time_seconds"
    assert value(tasks, cycle, quantile="0.5", **one_ai) == 4 * 3600.0
    assert value(tasks, cycle, quantile="0.9", **one_h) == 46 * 3600.0
    assert value(tasks, "devmetrics_task_cost_usd", **one_ai) == 1.75
    assert value(tasks, "devmetrics_task_cost_per_task_usd", **one_ai) == 1.75 / 2
    assert value(tasks, "devmetrics_task_cost_usd", **one_h) == 0.0
    assert value(tasks, "devmetrics_task_failed", **week_h) == 1.0
    assert value(tasks, "devmetrics_task_success_ratio", **week_h) == 1 / 2
    assert value(tasks, "devmetrics_task_cost_per_task_usd", **week_h) == 0.25


def test_reviews(make_event: Factory) -> None:
    e = lambda t, i, kind, actor, **kw: (  # noqa: E731
        "review",
        make_event("review", t, review_id=i, type=kind, actor=actor, **kw),
    )
    samples = _snapshot(
        [
            e(T - 3 * H, "v1", "requested", HUMAN),
            e(T - 1 * H, "v1", "completed", AI, outcome="approved", iteration=2, findings_count=3),
            e(T - 5 * H, "v2", "requested", HUMAN),
            e(T - 4 * H, "v2", "completed", AI, outcome="changes_requested", findings_count=5),
            e(T - 2 * H, "v3", "completed", HUMAN, outcome="approved"),
        ]
    )
    ai, human = {"window": "1d", "actor": AI}, {"window": "1d", "actor": HUMAN}
    assert value(samples, "devmetrics_review_completed", **ai) == 2.0
    latency = "devmetrics_review_latency_seconds"
    assert value(samples, latency, quantile="0.5", **ai) == 3600.0
    assert value(samples, latency, quantile="0.9", **ai) == 7200.0
    assert value(samples, latency, quantile="0.5", **human) is None
    assert value(samples, "devmetrics_review_approval_ratio", **ai) == 1 / 2
    assert value(samples, "devmetrics_review_iterations_per_change", **ai) == 2.0
    assert value(samples, "devmetrics_review_findings", **ai) == 8.0
    assert value(samples, "devmetrics_review_findings", **human) == 0.0
    assert value(samples, "devmetrics_review_iterations_per_change", **human) == 1.0


def test_test_runs(make_event: Factory) -> None:
    e = lambda t, actor, **kw: ("test", make_event("test", t, actor=actor, **kw))  # noqa: E731
    samples = _snapshot(
        [
            e(
                T - 1 * H,
                HUMAN,
                passed=90,
                failed=10,
                flaky=5,
                duration_seconds=120.0,
                coverage_ratio=0.8,
            ),
            e(T - 2 * H, HUMAN, passed=50, failed=0, flaky=0, duration_seconds=60.0),
            e(
                T - 2 * D,
                AI,
                passed=10,
                failed=10,
                flaky=1,
                duration_seconds=30.0,
                coverage_ratio=0.5,
            ),
        ]
    )
    human, ai1, ai7 = (
        {"window": "1d", "actor": HUMAN},
        {"window": "1d", "actor": AI},
        {"window": "7d", "actor": AI},
    )
    assert value(samples, "devmetrics_test_runs", **human) == 2.0
    assert value(samples, "devmetrics_test_pass_ratio", **human) == 140 / 150
    assert value(samples, "devmetrics_test_flaky_ratio", **human) == 5 / 150
    assert value(samples, "devmetrics_test_duration_seconds", quantile="0.5", **human) == 60.0
    assert value(samples, "devmetrics_test_duration_seconds", quantile="0.9", **human) == 120.0
    assert value(samples, "devmetrics_test_coverage_ratio", **human) == 0.8
    assert value(samples, "devmetrics_test_runs", **ai1) == 0.0
    assert value(samples, "devmetrics_test_pass_ratio", **ai1) is None
    assert value(samples, "devmetrics_test_coverage_ratio", **ai1) is None
    assert value(samples, "devmetrics_test_duration_seconds", quantile="0.5", **ai1) is None
    assert value(samples, "devmetrics_test_pass_ratio", **ai7) == 0.5
    assert value(samples, "devmetrics_test_flaky_ratio", **ai7) == 1 / 20
    assert value(samples, "devmetrics_test_coverage_ratio", **ai7) == 0.5
