"""SLO/SLI state against a hand-computed case, window edges included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, M, T, value

from core.slo_definitions import parse_slo_yaml
from processors.aggregators import ProjectLedger, Sample

pytestmark = pytest.mark.unit

Factory = Callable[..., dict[str, Any]]
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")


def _sli(make_event: Factory, t: int, total: int, good: int, buckets: list, **kw: Any) -> Any:
    return make_event(
        "sli",
        t,
        requests_total=total,
        requests_good=good,
        latency_buckets=[{"le": le, "count": n} for le, n in buckets],
        **kw,
    )


@pytest.fixture
def samples(make_event: Factory) -> list[Sample]:
    ledger = ProjectLedger("p1")
    events = [
        _sli(make_event, T, 100, 99, [(0.1, 60), (0.3, 95), (1.0, 100)]),
        _sli(make_event, T - 5 * M, 10, 5, [(0.3, 10)]),  # exactly T - 5m: not in 5m
        _sli(make_event, T - 5 * M + 1, 50, 50, [(0.1, 20), (0.5, 50)]),  # no 0.3 bucket
        _sli(make_event, T + 1, 1000, 0, [(0.3, 0)]),  # after T
        _sli(make_event, T - 30 * D + 1, 1000, 1000, [(0.3, 1000)]),  # only in 30d
        _sli(make_event, T - 30 * D, 7, 0, [(0.3, 0)]),  # exactly T - 30d: in no window
        _sli(make_event, T - 31 * D + M, 3, 3, [], service="web"),  # retained, in no window
    ]
    for event in events:
        assert ledger.fold("sli", event)
    return ledger.snapshot(T)


@pytest.mark.parametrize(
    ("window", "total", "good", "good_latency"),
    [
        ("5m", 150, 149, 95),
        ("30m", 160, 154, 105),
        ("1h", 160, 154, 105),
        ("2h", 160, 154, 105),
        ("6h", 160, 154, 105),
        ("1d", 160, 154, 105),
        ("3d", 160, 154, 105),
        ("30d", 1160, 1154, 1105),
    ],
)
def test_counts_ratios_and_burn_rates(
    samples: list[Sample], window: str, total: int, good: int, good_latency: int
) -> None:
    for slo, good_n, objective in (("availability", good, 0.999), ("latency", good_latency, 0.99)):
        labels = {"service": "api", "slo": slo, "window": window}
        assert value(samples, "devmetrics_slo_requests", **labels) == total
        assert value(samples, "devmetrics_slo_requests_good", **labels) == good_n
        sli = good_n / total
        assert value(samples, "devmetrics_slo_sli_ratio", **labels) == sli
        assert value(samples, "devmetrics_slo_burn_rate", **labels) == (1 - sli) / (1 - objective)


def test_error_budget_and_objective(samples: list[Sample]) -> None:
    budget = "devmetrics_slo_error_budget_remaining_ratio"
    api_av = {"service": "api", "slo": "availability"}
    api_lat = {"service": "api", "slo": "latency"}
    assert value(samples, budget, **api_av) == 1 - 6 / ((1 - 0.999) * 1160)
    assert value(samples, budget, **api_lat) == 1 - 55 / ((1 - 0.99) * 1160)
    overspent = value(samples, budget, **api_lat)
    assert overspent is not None and overspent < 0
    assert value(samples, "devmetrics_slo_objective_ratio", **api_av) == 0.999
    assert value(samples, "devmetrics_slo_objective_ratio", **api_lat) == 0.99


def test_service_without_traffic_in_windows_has_zero_counts_and_no_ratios(
    samples: list[Sample],
) -> None:
    for window in WINDOWS:
        labels = {"service": "web", "slo": "availability", "window": window}
        assert value(samples, "devmetrics_slo_requests", **labels) == 0.0
        assert value(samples, "devmetrics_slo_requests_good", **labels) == 0.0
        assert value(samples, "devmetrics_slo_sli_ratio", **labels) is None
        assert value(samples, "devmetrics_slo_burn_rate", **labels) is None
    web = {"service": "web", "slo": "availability"}
    assert value(samples, "devmetrics_slo_error_budget_remaining_ratio", **web) is None
    assert value(samples, "devmetrics_slo_objective_ratio", **web) == 0.999


def test_service_objectives_are_configurable(make_event: Factory) -> None:
    definitions = parse_slo_yaml(
        """
slos:
  - {name: availability, services: [api], indicator: {kind: availability}, objective: 0.99}
  - name: latency
    services: [api]
    indicator: {kind: latency, threshold_s: 0.5}
    objective: 0.99
""",
        "slo.yaml",
    )
    ledger = ProjectLedger("p1", definitions)
    ledger.fold("sli", _sli(make_event, T - M, 100, 90, [(0.3, 40), (0.5, 80)]))
    samples = ledger.snapshot(T)
    labels = {"service": "api", "window": "5m"}
    assert value(samples, "devmetrics_slo_requests_good", slo="latency", **labels) == 80.0
    assert value(samples, "devmetrics_slo_burn_rate", slo="availability", **labels) == (
        (1 - 90 / 100) / (1 - 0.99)
    )


def test_service_with_samples_only_after_t_is_not_reported(make_event: Factory) -> None:
    ledger = ProjectLedger("p1")
    ledger.fold("sli", _sli(make_event, T + 1, 5, 5, []))
    assert [s for s in ledger.snapshot(T) if s.name.startswith("devmetrics_slo")] == []
