"""DORA metrics against a hand-computed case (see the comments for each expected value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, H, M, T, value

from processors.aggregators import ProjectLedger, Sample

Event = dict[str, Any]
Factory = Callable[..., Event]

pytestmark = pytest.mark.unit


@pytest.fixture
def dora_events(make_event: Factory) -> list[Event]:
    dep = lambda t, i, **kw: make_event("deployment", t, deployment_id=i, **kw)  # noqa: E731
    inc = lambda t, i, kind, **kw: make_event("incident", t, incident_id=i, type=kind, **kw)  # noqa: E731
    chg = lambda t, i, at, **kw: make_event("change", t, change_id=i, committed_at=at, **kw)  # noqa: E731
    return [
        dep(T - 2 * H, "dA", change_ids=["c1", "c2"]),
        dep(T - 3 * D, "dB", kind="hotfix", change_ids=["c3"], remediates_incident_id="i0"),
        dep(T - 1 * H, "dC", status="failure", change_ids=["c4"]),  # not counted
        dep(T - 30 * M, "dD", environment="staging"),  # not counted
        dep(T - 5 * H, "dE", kind="rollback", rolls_back_deployment_id="dA"),
        dep(T - 10 * D, "dF", change_ids=["c1"]),  # c1's first deployment
        dep(T - 1 * D, "dG", change_ids=["c5"]),  # exactly at T - 1d: outside 1d
        dep(T + 1 * M, "dH", change_ids=["c6"]),  # after T: invisible
        dep(T - 20 * D, "dI", change_ids=["c7"]),
        chg(T - 12 * D, "c1", T - 12 * D - H),
        chg(T - 11 * D, "c1", T - 11 * D, type="merged"),  # later event: not used
        chg(T - 3 * H, "c2", T - 3 * H),
        chg(T - 3 * D - 2 * H, "c3", T - 3 * D - 2 * H),
        chg(T - 1 * D - 30 * M, "c5", T - 1 * D - 30 * M),
        chg(T - 1 * H, "c4", T - 2 * H),
        inc(T - 3 * D + 10 * M, "i1", "opened", caused_by_deployment_id="dB"),
        inc(T - 3 * D + 40 * M, "i1", "resolved", caused_by_deployment_id="dB"),
        inc(T - 70 * M, "i3", "opened", caused_by_deployment_id="dA"),
        inc(T - 65 * M, "i3", "opened"),
        inc(T - 10 * M, "i3", "resolved"),
        inc(T - 5 * M, "i3", "resolved"),
        inc(T - 2 * H, "i4", "opened"),  # no cause: not a recovery
        inc(T - 1 * H, "i4", "resolved"),
        inc(T - 19 * D - 2 * H, "i5", "opened", caused_by_deployment_id="dI"),
        inc(T - 19 * D, "i5", "resolved"),
        inc(T + 1 * M, "i6", "opened", caused_by_deployment_id="dG"),  # after T: dG not failed
    ]


def _snapshot(events: list[Event]) -> list[Sample]:
    ledger = ProjectLedger("p1")
    for event in events:
        ledger.fold(_family(event), event)
    return ledger.snapshot(T)


def _family(event: Event) -> str:
    if "deployment_id" in event:
        return "deployment"
    if "incident_id" in event:
        return "incident"
    return "change"


def test_deployments_per_window(dora_events: list[Event]) -> None:
    samples = _snapshot(dora_events)
    # counted: dA(T-2h), dE(T-5h) | dG(T-1d), dB(T-3d) | dF(T-10d), dI(T-20d)
    assert value(samples, "devmetrics_dora_deployments", window="1d") == 2.0
    assert value(samples, "devmetrics_dora_deployments", window="7d") == 4.0
    assert value(samples, "devmetrics_dora_deployments", window="30d") == 6.0
    # dates: T's day (dA, dE), T-1d, T-3d, T-10d, T-20d
    assert value(samples, "devmetrics_dora_deploy_day_per_week", window="30d") == 5 * 7 / 30


def test_lead_time_uses_first_deployment_and_earliest_commit(dora_events: list[Event]) -> None:
    samples = _snapshot(dora_events)
    lead = "devmetrics_dora_lead_time_seconds"
    # 1d: c2 = 3600 | 7d: c5 1800, c2 3600, c3 7200 | 30d: + c1 = 2d + 1h = 176400
    assert value(samples, lead, window="1d", quantile="0.5") == 3600.0
    assert value(samples, lead, window="1d", quantile="0.9") == 3600.0
    assert value(samples, lead, window="7d", quantile="0.5") == 3600.0
    assert value(samples, lead, window="7d", quantile="0.9") == 7200.0
    assert value(samples, lead, window="30d", quantile="0.5") == 3600.0
    assert value(samples, lead, window="30d", quantile="0.9") == 176400.0


def test_change_failure_and_rework_ratios(dora_events: list[Event]) -> None:
    samples = _snapshot(dora_events)
    # failed: dA (rolled back by dE), dB (cause of i1), dI (cause of i5)
    # rework: dB (hotfix), dE (rollback)
    cfr, rework = "devmetrics_dora_change_failure_ratio", "devmetrics_dora_rework_ratio"
    assert value(samples, cfr, window="1d") == 1 / 2
    assert value(samples, cfr, window="7d") == 2 / 4
    assert value(samples, cfr, window="30d") == 3 / 6
    assert value(samples, rework, window="1d") == 1 / 2
    assert value(samples, rework, window="7d") == 2 / 4
    assert value(samples, rework, window="30d") == 2 / 6


def test_recovery_time_from_earliest_opened_to_earliest_resolved(dora_events: list[Event]) -> None:
    samples = _snapshot(dora_events)
    rec = "devmetrics_dora_recovery_time_seconds"
    # i3: T-70m .. T-10m = 3600 | i1: 1800 | i5: 7200; i4 has no cause
    assert value(samples, rec, window="1d", quantile="0.5") == 3600.0
    assert value(samples, rec, window="1d", quantile="0.9") == 3600.0
    assert value(samples, rec, window="7d", quantile="0.5") == 1800.0
    assert value(samples, rec, window="7d", quantile="0.9") == 3600.0
    assert value(samples, rec, window="30d", quantile="0.5") == 3600.0
    assert value(samples, rec, window="30d", quantile="0.9") == 7200.0


def test_tiers(dora_events: list[Event]) -> None:
    samples = _snapshot(dora_events)
    tier = "devmetrics_dora_tier"
    assert value(samples, tier, metric="deployment_frequency") == 3.0  # 6 >= 4
    assert value(samples, tier, metric="lead_time") == 4.0  # p50 1h < 1d
    assert value(samples, tier, metric="change_failure_rate") == 1.0  # 50 % > 30 %
    assert value(samples, tier, metric="recovery_time") == 3.0  # 1h is not < 1h
    assert value(samples, tier, metric="overall") == 2.0  # floor(11 / 4)


def test_empty_project_has_counts_and_no_ratios() -> None:
    samples = ProjectLedger("p1").snapshot(T)
    assert value(samples, "devmetrics_dora_deployments", window="7d") == 0.0
    assert value(samples, "devmetrics_dora_deploy_day_per_week", window="30d") == 0.0
    assert value(samples, "devmetrics_dora_change_failure_ratio", window="7d") is None
    assert value(samples, "devmetrics_dora_rework_ratio", window="30d") is None
    assert value(samples, "devmetrics_dora_lead_time_seconds", window="1d", quantile="0.5") is None
    # No event, no history: no coverage and no tier (docs/metrics.md, "Tiers over a partly
    # covered history").
    names = {s.name for s in samples}
    assert "devmetrics_dora_tier" not in names
    assert "devmetrics_dora_history_coverage_ratio" not in names
