"""The per-project series budget: what is selected, what is dropped and counted."""

from __future__ import annotations

from collections import Counter

import pytest

from exporters.budget import FAMILIES, BudgetPolicy, services_by_traffic
from exporters.errors import BudgetError
from exporters.exposition import render_project
from exporters.snapshot import snapshot_from_record
from exporters.testing import example_record

pytestmark = pytest.mark.unit


def _families(rendered) -> Counter[str]:
    return Counter(
        {FAMILIES[i].name: part.count(b"\n") for i, part in enumerate(rendered.parts) if part}
    )


def test_a_full_single_service_snapshot_fits_the_budget_exactly() -> None:
    record = example_record("p", services=("api",))
    assert len(record["metrics"]) == 193
    rendered = render_project(snapshot_from_record(record), BudgetPolicy())
    assert rendered.series == 100
    assert rendered.dropped == {}
    families = _families(rendered)
    # 5 of the project's own, 27 DORA, 2 SLOs x 16, 18 process figures x 2 actors.
    assert families["devmetrics_project_info"] == 1
    assert families["devmetrics_state_events_applied_total"] == 1
    assert families["devmetrics_dora_deployments"] == 3
    assert families["devmetrics_dora_lead_time_seconds"] == 6
    assert families["devmetrics_dora_tier"] == 5
    assert families["devmetrics_slo_requests"] == 14
    assert families["devmetrics_slo_requests_good"] == 14
    assert families["devmetrics_slo_objective_ratio"] == 2
    assert families["devmetrics_slo_error_budget_remaining_ratio"] == 2
    assert families["devmetrics_task_completed"] == 2
    assert families["devmetrics_rfc_open_backlog"] == 2
    assert sum(families.values()) == 100
    assert (
        b'window="30d"'
        not in rendered.parts[
            FAMILIES.index(next(f for f in FAMILIES if f.name == "devmetrics_slo_requests"))
        ]
    )


def test_services_beyond_the_cap_and_series_beyond_the_budget_are_dropped_and_counted() -> None:
    record = example_record("p", services=("a", "b", "c"))
    rendered = render_project(snapshot_from_record(record), BudgetPolicy())
    assert rendered.series == 100
    # 5 + 27 + 2 services x 32 = 96: 4 of the 36 process series fit; the third service's
    # 2 SLOs x 16 series go by the service cap.
    assert rendered.dropped == {"series_cap": 32, "service_cap": 32}
    families = _families(rendered)
    assert families["devmetrics_task_completed"] == 2
    assert families["devmetrics_task_failed"] == 2
    assert "devmetrics_task_success_ratio" not in families


def test_the_busiest_services_are_kept() -> None:
    record = example_record("p", services=("a", "b", "c"))
    for metric in record["metrics"]:
        labels = metric["labels"]
        if metric["name"] == "devmetrics_slo_requests" and labels.get("window") == "30d":
            metric["value"] = {"a": 10.0, "b": 30.0, "c": 20.0}[labels["service"]]
    snapshot = snapshot_from_record(record)
    assert [s for s, _ in services_by_traffic(snapshot)] == ["b", "c", "a"]
    rendered = render_project(snapshot, BudgetPolicy(max_services=2))
    body = b"".join(rendered.parts)
    assert b'service="b"' in body and b'service="c"' in body
    assert b'service="a"' not in body


def test_an_slo_is_kept_or_dropped_whole() -> None:
    # 5 own + 27 DORA = 32; room for 10 more cannot hold an SLO's 16 series.
    record = example_record("p", services=("api",))
    rendered = render_project(snapshot_from_record(record), BudgetPolicy(max_series=42))
    families = _families(rendered)
    assert "devmetrics_slo_requests" not in families
    assert rendered.series == 42  # the ten first process series fill the room
    assert rendered.dropped == {"series_cap": 32 + 26}


def test_a_budget_below_the_fixed_series_is_refused() -> None:
    with pytest.raises(BudgetError, match="max_series 31 is below the 32 series"):
        BudgetPolicy(max_series=31)
