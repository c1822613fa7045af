"""What a shard serves of a snapshot: every catalogue series, the busiest services up to a cap."""

from __future__ import annotations

from collections import Counter

import pytest
from support.snapshots import example_record, sample

from exporters.errors import SeriesPolicyError
from exporters.exposition import RenderedProject, render_project
from exporters.series import (
    FAMILIES,
    FIXED_SERIES,
    SERIES_PER_SERVICE,
    ServicePolicy,
    max_series,
    services_by_traffic,
)
from exporters.snapshot import snapshot_from_record

pytestmark = pytest.mark.unit


def _families(rendered: RenderedProject) -> Counter[str]:
    return Counter(
        {FAMILIES[i].name: part.count(b"\n") for i, part in enumerate(rendered.parts) if part}
    )


def test_the_formula_counts_the_series_of_docs_metrics_md() -> None:
    # 5 own + DORA 27 + process 98 (2 actors x (backlog + 2 windows x 24)) + AI impact 132
    # (coverage 3, lead by author 3 x 2 x 2, share 3, by assist 3 x 2 x 3, per agent
    # 2 windows x 4 agent labels x 5, lineage 2 windows x 7 hops x 2 authors x 2 quantiles);
    # per service 2 SLOs x (objective, budget, 4 figures x 8 windows).
    assert FIXED_SERIES == 5 + 27 + 98 + 3 + 12 + 3 + 18 + 40 + 56
    assert SERIES_PER_SERVICE == 76
    assert max_series(3) == 490


@pytest.mark.parametrize("services", [("api",), ("a", "b", "c"), tuple(f"s{i}" for i in range(8))])
def test_every_series_of_a_full_snapshot_is_served(services: tuple[str, ...]) -> None:
    record = example_record("p", services=services)
    rendered = render_project(snapshot_from_record(record), ServicePolicy())
    assert rendered.series == len(record["metrics"]) + 5 == max_series(len(services))
    assert rendered.dropped == {} and rendered.services_capped == 0
    families = _families(rendered)
    assert families["devmetrics_project_info"] == 1
    assert families["devmetrics_dora_tier"] == 5
    assert families["devmetrics_slo_sli_ratio"] == 16 * len(services)
    assert families["devmetrics_slo_burn_rate"] == 16 * len(services)
    assert families["devmetrics_slo_requests"] == 16 * len(services)
    assert families["devmetrics_test_duration_seconds"] == 2 * 2 * 2
    assert families["devmetrics_task_cost_per_task_usd"] == 4
    assert families["devmetrics_rfc_open_backlog"] == 2
    assert "devmetrics_project_services_capped" not in families
    body = b"".join(rendered.parts)
    assert b'devmetrics_slo_requests{project="p",service="' in body
    assert b'window="30d"' in body and b'quantile="0.9"' in body and b'window="1d"' in body


def test_services_beyond_the_cap_are_counted_on_a_series_naming_the_project() -> None:
    record = example_record("p", services=("a", "b", "c"))
    for metric in record["metrics"]:
        labels = metric["labels"]
        if metric["name"] == "devmetrics_slo_requests" and labels.get("window") == "30d":
            metric["value"] = {"a": 10.0, "b": 30.0, "c": 20.0}[labels["service"]]
    snapshot = snapshot_from_record(record)
    assert services_by_traffic(snapshot) == ["b", "c", "a"]
    rendered = render_project(snapshot, ServicePolicy(max_services=2))
    body = b"".join(rendered.parts)
    assert b'service="b"' in body and b'service="c"' in body
    assert b'service="a"' not in body
    assert b'devmetrics_project_services_capped{project="p"} 1\n' in body
    assert rendered.dropped == {"service_cap": SERIES_PER_SERVICE}
    assert rendered.services_capped == 1
    assert rendered.series == max_series(2) + 1


def test_a_family_outside_the_catalogue_is_counted_not_served() -> None:
    record = example_record("p")
    record["metrics"].append(sample("devmetrics_something_new", 1.0, window="1d"))
    rendered = render_project(snapshot_from_record(record), ServicePolicy())
    assert rendered.dropped == {"unknown_family": 1}
    assert b"devmetrics_something_new" not in b"".join(rendered.parts)


def test_a_service_cap_below_one_is_refused() -> None:
    with pytest.raises(SeriesPolicyError, match="max_services must be >= 1, got 0"):
        ServicePolicy(max_services=0)
