"""The truth against hand-computed tiny event sets (docs/metrics.md, value by value)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from producers.simulator.truth import (
    change_failure_tier,
    compute_metrics,
    deployment_frequency_tier,
    lead_time_tier,
    metric_value,
    nearest_rank,
    recovery_tier,
)

pytestmark = pytest.mark.unit

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z
S = 1000
M = 60 * S
H = 60 * M
D = 24 * H
HUMAN = {"kind": "human", "name": "kim", "model": None}
AI = {"kind": "ai_agent", "name": "implementer", "model": "model-large"}

Event = tuple[str, dict[str, Any]]
_ids = itertools.count(1)


def ev(family: str, t: int, actor: dict[str, Any] | None = None, **fields: Any) -> Event:
    record = {
        "event_id": f"00000000-0000-4000-8000-{next(_ids):012d}",
        "project_id": "proj-0001",
        "occurred_at": t,
        "source": "simulator",
        "actor": actor or HUMAN,
        "schema_version": 1,
    }
    record.update(fields)
    return family, record


def deploy(t: int, dep_id: str, changes: tuple[str, ...] = (), **fields: Any) -> Event:
    base = {
        "type": "finished",
        "deployment_id": dep_id,
        "environment": "production",
        "status": "success",
        "change_ids": list(changes),
        "kind": "planned",
        "rolls_back_deployment_id": None,
        "remediates_incident_id": None,
        "started_at": None,
    }
    base.update(fields)
    return ev("deployment", t, AI, **base)


def change(t: int, change_id: str, committed_at: int, type_: str = "committed") -> Event:
    return ev(
        "change",
        t,
        HUMAN,
        type=type_,
        change_id=change_id,
        committed_at=committed_at,
        commit_sha=None,
        task_id=None,
        rfc_id=None,
    )


def incident(t: int, incident_id: str, type_: str, caused_by: str | None) -> Event:
    return ev(
        "incident",
        t,
        HUMAN,
        type=type_,
        incident_id=incident_id,
        severity="sev2",
        caused_by_deployment_id=caused_by,
        title=None,
    )


HISTORY = ev("test", T - 30 * D, HUMAN, type="run_completed")
"""An event 30 days old that no figure counts (test figures span 7 days at most): with it the
project's history covers the tiers' 30d window, so the cases below judge tiers as the table
says (docs/metrics.md, "Tiers over a partly covered history" has its own cases)."""


@pytest.fixture
def value() -> Callable[..., float | None]:
    def lookup(events: list[Event], name: str, **labels: str) -> float | None:
        return metric_value(compute_metrics([HISTORY, *events], T), name, **labels)

    return lookup


# --- conventions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([5.0, 1.0, 3.0], 0.5, 3.0),  # rank ceil(1.5) = 2
        ([5.0, 1.0, 3.0], 0.9, 5.0),  # rank ceil(2.7) = 3
        ([float(i) for i in range(1, 11)], 0.9, 9.0),  # rank 9
        ([float(i) for i in range(1, 11)], 0.5, 5.0),  # rank 5
        ([7.0], 0.9, 7.0),
        ([], 0.5, None),
    ],
)
def test_nearest_rank(values: list[float], p: float, expected: float | None) -> None:
    assert nearest_rank(values, p) == expected


def test_window_edges_event_at_t_minus_w_is_out_at_t_is_in(value: Callable[..., Any]) -> None:
    events = [deploy(T - D, "d-edge"), deploy(T, "d-now"), deploy(T + 1, "d-future")]
    assert value(events, "devmetrics_dora_deployments", window="1d") == 1.0
    assert value(events, "devmetrics_dora_deployments", window="7d") == 2.0


def test_retention_drops_events_at_or_before_t_minus_31d(value: Callable[..., Any]) -> None:
    events = [
        change(T - 31 * D, "c-old", T - 31 * D),
        change(T - 31 * D + 1, "c-kept", T - 31 * D + 1),
        deploy(T - H, "d1", ("c-old", "c-kept")),
    ]
    # Only c-kept has a known commit: lead time (T - H) - (T - 31d + 1) ms.
    assert value(events, "devmetrics_dora_lead_time_seconds", window="1d", quantile="0.5") == (
        (31 * D - H - 1) / 1000
    )


def test_duplicates_count_once(value: Callable[..., Any]) -> None:
    family, record = deploy(T - H, "d1")
    events = [(family, record), (family, dict(record))]
    assert value(events, "devmetrics_dora_deployments", window="1d") == 1.0


# --- DORA -----------------------------------------------------------------------------


def test_counts_are_zero_and_ratios_absent_without_deployments(value: Callable[..., Any]) -> None:
    events = [
        deploy(T - H, "d-staging", environment="staging"),
        deploy(T - H, "d-failed", status="failure"),
    ]
    assert value(events, "devmetrics_dora_deployments", window="1d") == 0.0
    assert value(events, "devmetrics_dora_deploy_day_per_week", window="30d") == 0.0
    assert value(events, "devmetrics_dora_change_failure_ratio", window="1d") is None
    assert value(events, "devmetrics_dora_rework_ratio", window="30d") is None
    assert value(events, "devmetrics_dora_lead_time_seconds", window="7d", quantile="0.5") is None
    assert value(events, "devmetrics_dora_tier", metric="deployment_frequency") == 1.0
    assert value(events, "devmetrics_dora_tier", metric="lead_time") is None
    assert value(events, "devmetrics_dora_tier", metric="overall") == 1.0


def test_deploy_day_per_week_counts_distinct_utc_dates(value: Callable[..., Any]) -> None:
    events = [deploy(T - 1, "a"), deploy(T - 2 * H, "b"), deploy(T - D - 1, "c")]
    # T - 1 ms and T - 2h are on 2025-12-31, T - 1d - 1 ms on 2025-12-30.
    assert value(events, "devmetrics_dora_deploy_day_per_week", window="30d") == 2 * 7 / 30


def test_lead_time_uses_first_production_deployment_and_earliest_change_event(
    value: Callable[..., Any],
) -> None:
    events = [
        change(T - 3 * H, "c1", T - 3 * H),
        change(T - 2 * H, "c1", T - 150 * M, type_="merged"),  # later event: not used
        deploy(T - 2 * H, "stage", ("c1",), environment="staging"),  # not a deployment
        deploy(T - H, "d1", ("c1", "c-unknown")),  # c-unknown has no change event: left out
        deploy(T - 30 * M, "d2", ("c1",)),  # not c1's first deployment
        change(T - 3 * D, "c3", T - 3 * D),
        deploy(T - 2 * D, "d3", ("c3",)),
        deploy(T - 10 * M, "d4", ("c3",)),
    ]
    assert value(events, "devmetrics_dora_lead_time_seconds", window="1d", quantile="0.5") == 7200.0
    assert value(events, "devmetrics_dora_lead_time_seconds", window="1d", quantile="0.9") == 7200.0
    # 7d holds c1 (2 h) and c3 (1 d): p50 is rank 1, p90 rank 2.
    assert value(events, "devmetrics_dora_lead_time_seconds", window="7d", quantile="0.5") == 7200.0
    assert (
        value(events, "devmetrics_dora_lead_time_seconds", window="7d", quantile="0.9") == 86400.0
    )


def test_change_failure_and_rework_from_incidents_and_rollbacks(value: Callable[..., Any]) -> None:
    events = [
        deploy(T - 5 * H, "d1"),
        deploy(T - 4 * H, "d2"),
        deploy(T - 3 * H, "d3"),
        deploy(T - 2 * H, "d4", kind="rollback", rolls_back_deployment_id="d2"),
        deploy(
            T - 90 * M, "d5", status="failure", kind="rollback", rolls_back_deployment_id="d3"
        ),  # any status counts for the rollback link
        incident(T - 270 * M, "i1", "opened", "d1"),
        incident(T + H, "i2", "opened", "d4"),  # after T: does not count
    ]
    # Deployments in 1d: d1..d4; failed: d1 (incident), d2 and d3 (rollbacks).
    assert value(events, "devmetrics_dora_deployments", window="1d") == 4.0
    assert value(events, "devmetrics_dora_change_failure_ratio", window="1d") == 3 / 4
    assert value(events, "devmetrics_dora_rework_ratio", window="1d") == 1 / 4
    assert value(events, "devmetrics_dora_tier", metric="change_failure_rate") == 1.0


def test_rework_counts_hotfixes_and_remediations(value: Callable[..., Any]) -> None:
    events = [
        deploy(T - 5 * H, "d1"),
        deploy(T - 4 * H, "d2", kind="hotfix"),
        deploy(T - 3 * H, "d3", remediates_incident_id="i1"),
    ]
    assert value(events, "devmetrics_dora_rework_ratio", window="1d") == 2 / 3


def test_recovery_time_earliest_resolved_minus_earliest_opened(value: Callable[..., Any]) -> None:
    events = [
        incident(T - 270 * M, "i1", "opened", "d1"),
        incident(T - 260 * M, "i1", "opened", "d1"),  # a later opened: not used
        incident(T - 210 * M, "i1", "resolved", "d1"),
        incident(T - 60 * M, "i1", "resolved", "d1"),  # a later resolved: not used
        incident(T - 5 * H, "i2", "opened", None),  # not caused by a deployment
        incident(T - 4 * H, "i2", "resolved", None),
        incident(T - 2 * H, "i3", "resolved", "d9"),  # no opened known: left out
        incident(T - 3 * D, "i4", "opened", "d1"),
        incident(T - 2 * D, "i4", "resolved", "d1"),
    ]
    assert (
        value(events, "devmetrics_dora_recovery_time_seconds", window="1d", quantile="0.5")
        == 3600.0
    )
    assert (
        value(events, "devmetrics_dora_recovery_time_seconds", window="1d", quantile="0.9")
        == 3600.0
    )
    assert (
        value(events, "devmetrics_dora_recovery_time_seconds", window="7d", quantile="0.9")
        == 86400.0
    )
    assert value(events, "devmetrics_dora_tier", metric="recovery_time") == 3.0


def test_overall_tier_is_floor_of_mean_of_present_tiers(value: Callable[..., Any]) -> None:
    events = [change(T - 12 * D, "c1", T - 12 * D), deploy(T - 10 * D, "d1", ("c1",))]
    # deployment frequency 1 -> 2, lead time 2 d -> 3, change failure 0 -> 4, no recovery.
    assert value(events, "devmetrics_dora_tier", metric="deployment_frequency") == 2.0
    assert value(events, "devmetrics_dora_tier", metric="lead_time") == 3.0
    assert value(events, "devmetrics_dora_tier", metric="change_failure_rate") == 4.0
    assert value(events, "devmetrics_dora_tier", metric="recovery_time") is None
    assert value(events, "devmetrics_dora_tier", metric="overall") == 3.0


@pytest.mark.parametrize(
    ("tier", "arg", "expected"),
    [
        (deployment_frequency_tier, 30, 4),
        (deployment_frequency_tier, 29, 3),
        (deployment_frequency_tier, 4, 3),
        (deployment_frequency_tier, 3, 2),
        (deployment_frequency_tier, 1, 2),
        (deployment_frequency_tier, 0, 1),
        (lead_time_tier, 86399.999, 4),
        (lead_time_tier, 86400.0, 3),
        (lead_time_tier, 604800.0, 2),
        (lead_time_tier, 2592000.0, 1),
        (lead_time_tier, None, None),
        (change_failure_tier, 0.05, 4),
        (change_failure_tier, 0.2, 3),
        (change_failure_tier, 0.3, 2),
        (change_failure_tier, 0.31, 1),
        (recovery_tier, 3599.0, 4),
        (recovery_tier, 3600.0, 3),
        (recovery_tier, 86400.0, 2),
        (recovery_tier, 604800.0, 1),
    ],
)
def test_tier_thresholds(tier: Callable[[Any], int | None], arg: Any, expected: int | None) -> None:
    assert tier(arg) == expected


# --- SLO ------------------------------------------------------------------------------


def sli(t: int, total: int, good: int, buckets: list[tuple[float, int]]) -> Event:
    return ev(
        "sli",
        t,
        AI,
        type="window_sample",
        service="api",
        interval_seconds=300,
        requests_total=total,
        requests_good=good,
        latency_buckets=[{"le": le, "count": c} for le, c in buckets],
    )


def test_slo_windows_sums_burn_rate_and_budget(value: Callable[..., Any]) -> None:
    events = [
        sli(T - 5 * M, 100, 99, [(0.1, 50), (0.3, 97), (1.0, 100)]),  # out of 5m, in 30m
        sli(T, 1000, 1000, [(0.3, 990)]),
        sli(T - 2 * H, 50, 50, [(0.5, 50)]),  # no 0.3 bucket: no latency-good requests
    ]
    a5 = {"service": "api", "slo": "availability", "window": "5m"}
    assert value(events, "devmetrics_slo_requests", **a5) == 1000.0
    assert value(events, "devmetrics_slo_sli_ratio", **a5) == 1.0
    assert value(events, "devmetrics_slo_burn_rate", **a5) == 0.0
    a30 = {"service": "api", "slo": "availability", "window": "30m"}
    assert value(events, "devmetrics_slo_requests_good", **a30) == 1099.0
    assert value(events, "devmetrics_slo_sli_ratio", **a30) == 1099 / 1100
    assert value(events, "devmetrics_slo_burn_rate", **a30) == (1 - 1099 / 1100) / (1 - 0.999)
    l30 = {"service": "api", "slo": "latency", "window": "30m"}
    assert value(events, "devmetrics_slo_requests_good", **l30) == 1087.0
    l1d = {"service": "api", "slo": "latency", "window": "1d"}
    assert value(events, "devmetrics_slo_requests", **l1d) == 1150.0
    assert value(events, "devmetrics_slo_requests_good", **l1d) == 1087.0
    assert value(
        events, "devmetrics_slo_error_budget_remaining_ratio", service="api", slo="latency"
    ) == 1 - 63 / ((1 - 0.99) * 1150)
    assert value(events, "devmetrics_slo_objective_ratio", service="api", slo="latency") == 0.99


def test_slo_ratios_absent_without_traffic(value: Callable[..., Any]) -> None:
    events = [sli(T - 2 * D, 0, 0, [(0.3, 0)])]
    w = {"service": "api", "slo": "availability", "window": "1d"}
    assert value(events, "devmetrics_slo_requests", **w) == 0.0
    assert value(events, "devmetrics_slo_sli_ratio", **w) is None
    assert value(events, "devmetrics_slo_burn_rate", **w) is None
    assert (
        value(
            events, "devmetrics_slo_error_budget_remaining_ratio", service="api", slo="availability"
        )
        is None
    )


# --- development process --------------------------------------------------------------


def rfc(
    t: int, rfc_id: str, type_: str, actor: dict[str, Any], decision: str | None = None
) -> Event:
    return ev("rfc", t, actor, type=type_, rfc_id=rfc_id, decision=decision, title=None)


def test_rfc_figures_by_actor(value: Callable[..., Any]) -> None:
    events = [
        rfc(T - 2 * D, "r1", "submitted", HUMAN),
        rfc(T - 36 * H, "r1", "decided", HUMAN, "changes_requested"),  # not final
        rfc(T - 10 * H, "r1", "decided", AI, "accepted"),
        rfc(T - 3 * H, "r2", "submitted", HUMAN),  # open
        rfc(T - 31 * D + 1, "r3", "submitted", AI),  # before the 30d backlog window
        rfc(T - 2 * H, "r3", "decided", HUMAN, "rejected"),
        rfc(T - 40 * D + H, "r4", "submitted", HUMAN),  # outside retention
        rfc(T - H, "r5", "decided", HUMAN, "accepted"),  # no submitted known
    ]
    ai1 = {"window": "1d", "actor": "ai_agent"}
    hu1 = {"window": "1d", "actor": "human"}
    assert value(events, "devmetrics_rfc_submitted", **hu1) == 1.0
    assert value(events, "devmetrics_rfc_submitted", window="7d", actor="human") == 2.0
    assert value(events, "devmetrics_rfc_submitted", **ai1) == 0.0
    assert value(events, "devmetrics_rfc_decided", **ai1) == 1.0
    assert value(events, "devmetrics_rfc_decided", **hu1) == 2.0
    assert value(events, "devmetrics_rfc_acceptance_ratio", **ai1) == 1.0
    assert value(events, "devmetrics_rfc_acceptance_ratio", **hu1) == 0.5
    assert (
        value(events, "devmetrics_rfc_time_to_decision_seconds", quantile="0.5", **ai1)
        == 38 * 3600.0
    )
    # Human decisions: r3 (31d - 1 ms - 2 h) and r5 (left out).
    assert value(events, "devmetrics_rfc_time_to_decision_seconds", quantile="0.9", **hu1) == (
        (31 * D - 1 - 2 * H) / 1000
    )
    assert value(events, "devmetrics_rfc_open_backlog", actor="human") == 1.0
    assert value(events, "devmetrics_rfc_open_backlog", actor="ai_agent") == 0.0


def task(
    t: int,
    task_id: str,
    type_: str,
    actor: dict[str, Any],
    cost: float | None = None,
    attempt: int = 1,
) -> Event:
    return ev(
        "task",
        t,
        actor,
        type=type_,
        task_id=task_id,
        rfc_id=None,
        attempt=attempt,
        tokens=None,
        cost_usd=cost,
        duration_seconds=None,
        error=None,
    )


def test_task_figures_by_actor(value: Callable[..., Any]) -> None:
    events = [
        task(T - 5 * H, "t1", "started", AI),
        task(T - 4 * H, "t1", "failed", AI, cost=0.5),
        task(T - 3 * H, "t1", "started", AI, attempt=2),
        task(T - 2 * H, "t1", "completed", AI, cost=0.25, attempt=2),
        task(T - H, "t2", "completed", HUMAN),  # no started known, cost unset
        task(T - 2 * D, "t3", "failed", HUMAN),
    ]
    ai1 = {"window": "1d", "actor": "ai_agent"}
    hu1 = {"window": "1d", "actor": "human"}
    assert value(events, "devmetrics_task_completed", **ai1) == 1.0
    assert value(events, "devmetrics_task_failed", **ai1) == 1.0
    assert value(events, "devmetrics_task_success_ratio", **ai1) == 0.5
    assert value(events, "devmetrics_task_cycle_time_seconds", quantile="0.5", **ai1) == 3 * 3600.0
    assert value(events, "devmetrics_task_cost_usd", **ai1) == 0.75
    assert value(events, "devmetrics_task_cost_per_task_usd", **ai1) == 0.75
    assert value(events, "devmetrics_task_cycle_time_seconds", quantile="0.5", **hu1) is None
    assert value(events, "devmetrics_task_cost_usd", **hu1) == 0.0
    assert value(events, "devmetrics_task_cost_per_task_usd", **hu1) == 0.0
    assert value(events, "devmetrics_task_success_ratio", window="7d", actor="human") == 0.5


def review(
    t: int,
    review_id: str,
    type_: str,
    actor: dict[str, Any],
    iteration: int = 1,
    outcome: str | None = None,
    findings: int = 0,
) -> Event:
    return ev(
        "review",
        t,
        actor,
        type=type_,
        review_id=review_id,
        change_id="c1",
        iteration=iteration,
        outcome=outcome,
        findings_count=findings,
    )


def test_review_figures_by_reviewer(value: Callable[..., Any]) -> None:
    events = [
        review(T - 3 * H, "rv1", "requested", AI, iteration=2),
        review(T - H, "rv1", "completed", HUMAN, 2, "approved", 1),
        review(T - 2 * H, "rv2", "requested", HUMAN),
        review(T - 90 * M, "rv2", "completed", AI, 1, "changes_requested", 4),
        review(T - 4 * H, "rv3", "requested", HUMAN),  # never completed
    ]
    ai1 = {"window": "1d", "actor": "ai_agent"}
    hu1 = {"window": "1d", "actor": "human"}
    assert value(events, "devmetrics_review_completed", **hu1) == 1.0
    assert value(events, "devmetrics_review_latency_seconds", quantile="0.9", **hu1) == 7200.0
    assert value(events, "devmetrics_review_approval_ratio", **hu1) == 1.0
    assert value(events, "devmetrics_review_iterations_per_change", **hu1) == 2.0
    assert value(events, "devmetrics_review_findings", **hu1) == 1.0
    assert value(events, "devmetrics_review_latency_seconds", quantile="0.5", **ai1) == 1800.0
    assert value(events, "devmetrics_review_approval_ratio", **ai1) == 0.0
    assert value(events, "devmetrics_review_iterations_per_change", **ai1) is None
    assert value(events, "devmetrics_review_findings", **ai1) == 4.0


def run(
    t: int,
    actor: dict[str, Any],
    passed: int,
    failed: int,
    flaky: int,
    duration: float,
    coverage: float | None,
) -> Event:
    return ev(
        "test",
        t,
        actor,
        type="run_completed",
        run_id=f"run-{t}",
        change_id=None,
        passed=passed,
        failed=failed,
        skipped=5,
        flaky=flaky,
        duration_seconds=duration,
        coverage_ratio=coverage,
    )


def test_test_figures_by_actor(value: Callable[..., Any]) -> None:
    events = [
        run(T - H, HUMAN, 90, 10, 3, 10.0, 0.8),
        run(T - 2 * H, HUMAN, 100, 0, 0, 30.0, None),
        run(T - 3 * H, AI, 0, 0, 0, 1.5, None),
    ]
    hu1 = {"window": "1d", "actor": "human"}
    ai1 = {"window": "1d", "actor": "ai_agent"}
    assert value(events, "devmetrics_test_runs", **hu1) == 2.0
    assert value(events, "devmetrics_test_pass_ratio", **hu1) == 190 / 200
    assert value(events, "devmetrics_test_flaky_ratio", **hu1) == 3 / 200
    assert value(events, "devmetrics_test_duration_seconds", quantile="0.5", **hu1) == 10.0
    assert value(events, "devmetrics_test_duration_seconds", quantile="0.9", **hu1) == 30.0
    assert value(events, "devmetrics_test_coverage_ratio", **hu1) == 0.8
    assert value(events, "devmetrics_test_runs", **ai1) == 1.0
    assert value(events, "devmetrics_test_pass_ratio", **ai1) is None
    assert value(events, "devmetrics_test_coverage_ratio", **ai1) is None
    assert value(events, "devmetrics_test_duration_seconds", quantile="0.9", **ai1) == 1.5


def test_nearest_rank_uses_exact_arithmetic() -> None:
    from producers.simulator.truth import nearest_rank

    # 0.9 * 70 is 63.00000000000001 in floating point; the rank is 63.
    assert nearest_rank(list(range(1, 71)), 0.9) == 63
    assert nearest_rank(list(range(1, 11)), 0.9) == 9
    assert nearest_rank([5.0], 0.5) == 5.0
    assert nearest_rank([], 0.5) is None
