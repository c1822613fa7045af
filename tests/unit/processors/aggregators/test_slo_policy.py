"""SLOs under definitions (docs/metrics.md, "SLO" and "Error-budget policy") on hand-computed
cases: calendar periods across a month boundary and daylight-saving changes in the SLO's zone,
the deploy freeze and the policy violations, and a changed latency threshold applied to the
state already held. Each case is checked against both implementations: the processors' ledger
and the simulator's independent truth. The expected values are worked out in the comments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from agg_helpers import D, H, M

from core.slo_definitions import SloDefinitions, parse_slo_yaml
from processors.aggregators import ProjectLedger
from producers.simulator.truth import compute_metrics

pytestmark = pytest.mark.unit

Event = dict[str, Any]
Factory = Callable[..., Event]
Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]
BUDGET = "devmetrics_slo_error_budget_remaining_ratio"
PERIOD_SLI = "devmetrics_slo_period_sli_ratio"
START = "devmetrics_slo_period_start_timestamp_seconds"
FREEZE = "devmetrics_slo_deploy_freeze"
VIOLATIONS = "devmetrics_slo_policy_violations"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def _processors(events: list[tuple[str, Event]], as_of: int, slos: SloDefinitions) -> Figures:
    ledger = ProjectLedger("p1", slos)
    for family, event in events:
        ledger.fold(family, event)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in ledger.snapshot(as_of)}


def _truth(events: list[tuple[str, Event]], as_of: int, slos: SloDefinitions) -> Figures:
    samples = compute_metrics(events, as_of, slos=slos)
    return {(s["name"], tuple(sorted(s["labels"].items()))): s["value"] for s in samples}


IMPLEMENTATIONS = {"processors": _processors, "truth": _truth}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def figures(request: pytest.FixtureRequest) -> Callable[..., Figures]:
    return IMPLEMENTATIONS[request.param]


def _get(found: Figures, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def sli(make_event: Factory) -> Callable[..., tuple[str, Event]]:
    """`sli(t, total, good, buckets={le: count}, service="api")`."""

    def make(
        t: int, total: int, good: int, buckets: dict[float, int] | None = None, **kw: Any
    ) -> tuple[str, Event]:
        listed = [{"le": le, "count": n} for le, n in sorted((buckets or {}).items())]
        event = make_event(
            "sli", t, requests_total=total, requests_good=good, latency_buckets=listed, **kw
        )
        return "sli", event

    return make


def _definitions(text: str) -> SloDefinitions:
    return parse_slo_yaml(text, "slo.yaml")


MONTH_BERLIN = _definitions(
    """
defaults: false
slos:
  - name: availability
    indicator: {kind: availability}
    objective: 0.99
    period: {calendar: month, timezone: Europe/Berlin}
"""
)


def test_calendar_month_at_its_boundary_and_across_the_spring_change(
    figures: Callable[..., Figures], sli: Callable[..., tuple[str, Event]]
) -> None:
    """March 2026 in Berlin: from 1 March 00:00 CET (28 Feb 23:00 UTC) to 1 April 00:00 CEST
    (31 March 22:00 UTC), 30 days 23 hours (clocks go forward on 29 March)."""
    march_start, april_start = _utc(2026, 2, 28, 23), _utc(2026, 3, 31, 22)
    events = [
        sli(march_start, 1000, 0),  # at S exactly: February's last sample, in no March
        sli(march_start + M, 100, 99),  # March's first minute
        sli(_utc(2026, 3, 29, 1, 30), 100, 98),  # the night the clocks change
        sli(april_start, 100, 100),  # at the boundary: March's last minute
        sli(april_start + M, 10, 5),  # April's first minute
    ]
    # At T = the boundary, March is the current period, complete: 300 requests, 3 bad.
    at_boundary = figures(events, april_start, MONTH_BERLIN)
    labels = {"service": "api", "slo": "availability"}
    assert _get(at_boundary, BUDGET, **labels) == 1 - 3 / ((1 - 0.99) * 300)  # 0.0 left
    assert _get(at_boundary, PERIOD_SLI, **labels) == 297 / 300
    assert _get(at_boundary, START, **labels) == march_start / 1000
    # A minute later April holds one minute: 10 requests, 5 bad: 1 - 5 / 0.1 = -49.
    april = figures(events, april_start + M, MONTH_BERLIN)
    assert _get(april, BUDGET, **labels) == 1 - 5 / ((1 - 0.99) * 10)
    assert _get(april, PERIOD_SLI, **labels) == 0.5
    assert _get(april, START, **labels) == april_start / 1000
    # The rolling windows do not care about the calendar: 30d at the boundary holds the
    # samples after 1 March 22:00 UTC: the two of the end of March.
    assert _get(at_boundary, "devmetrics_slo_requests", window="30d", **labels) == 200


def test_calendar_month_that_gains_an_hour_is_cut_to_the_state_held(
    figures: Callable[..., Figures], sli: Callable[..., tuple[str, Event]]
) -> None:
    """October 2026 in Berlin runs from 30 Sep 22:00 UTC to 31 Oct 23:00 UTC, 31 days and an
    hour (clocks go back on 25 October): during its last hour its first hour is older than
    T - 31d, outside the state (docs/metrics.md, "SLO")."""
    start, end = _utc(2026, 9, 30, 22), _utc(2026, 10, 31, 23)
    events = [
        sli(start + 30 * M, 100, 0),  # the month's first hour
        sli(_utc(2026, 10, 25, 1, 30), 100, 100),  # the hour that happens twice, in UTC once
        sli(end - 10 * M, 100, 100),
    ]
    labels = {"service": "api", "slo": "availability"}
    # Half an hour before the month ends, T - 31d = 30 Sep 22:30 UTC: the first sample is
    # at that instant, so out (windows are (start, T]); 200 requests, none bad.
    late = figures(events, end - 30 * M, MONTH_BERLIN)
    assert _get(late, BUDGET, **labels) == 1.0
    assert _get(late, START, **labels) == start / 1000
    # An hour earlier the first sample is held, the last is still to come: 200 requests,
    # 100 bad: 1 - 100 / 2 = -49.
    earlier = figures(events, end - 90 * M, MONTH_BERLIN)
    assert _get(earlier, BUDGET, **labels) == 1 - 100 / ((1 - 0.99) * 200)


def test_calendar_week_starts_on_local_monday_across_the_change_to_summer_time(
    figures: Callable[..., Figures], sli: Callable[..., tuple[str, Event]]
) -> None:
    """New York, ISO week of 2 March 2026: Monday 00:00 EST (05:00 UTC) to Monday 9 March
    00:00 EDT (04:00 UTC): 6 days 23 hours."""
    week = _definitions(
        """
defaults: false
slos:
  - name: latency
    indicator: {kind: latency, threshold_s: 0.25}
    objective: 0.9
    period: {calendar: week, timezone: America/New_York}
"""
    )
    start, next_start = _utc(2026, 3, 2, 5), _utc(2026, 3, 9, 4)
    events = [
        sli(start, 50, 50, {0.25: 0}),  # at S: the week before
        sli(start + M, 100, 100, {0.1: 10, 0.25: 80}),
        sli(next_start, 100, 100, {0.25: 100}),  # the week's last minute
        sli(next_start + M, 10, 10, {0.5: 10}),  # next week; no 0.25 bucket: none good
    ]
    labels = {"service": "api", "slo": "latency"}
    at_end = figures(events, next_start, week)
    # 200 requests, 180 at or under 0.25 s: 20 bad of 20 allowed: budget 0 (in floats a
    # hair below: (1 - 0.9) * 200 rounds under 20), which is not below the freeze level 0.
    assert _get(at_end, BUDGET, **labels) == 1 - 20 / ((1 - 0.9) * 200)
    assert _get(at_end, START, **labels) == start / 1000
    assert _get(at_end, FREEZE, **labels) == 0.0
    after = figures(events, next_start + M, week)
    assert _get(after, PERIOD_SLI, **labels) == 0.0
    assert _get(after, BUDGET, **labels) == 1 - 10 / ((1 - 0.9) * 10)  # -9
    assert _get(after, FREEZE, **labels) == 1.0
    assert _get(after, START, **labels) == next_start / 1000


def test_deploy_freeze_and_the_deployments_made_while_it_held(
    figures: Callable[..., Figures],
    sli: Callable[..., tuple[str, Event]],
    make_event: Factory,
) -> None:
    policy = _definitions(
        """
defaults: false
slos:
  - name: availability
    indicator: {kind: availability}
    objective: 0.9
    period: {rolling_days: 1}
    freeze_below: 0.5
  - name: relaxed
    indicator: {kind: availability}
    objective: 0.9
    period: {rolling_days: 1}
    freeze_below: -1
"""
    )
    T = _utc(2026, 3, 1, 12)

    def deployment(t: int, name: str, status: str = "success") -> tuple[str, Event]:
        return "deployment", make_event("deployment", t, deployment_id=name, status=status)

    events = [
        sli(T - 20 * H, 100, 100),
        sli(T - 10 * H, 100, 80),
        # As of T - 15h the day holds the first sample only: budget 1, no freeze.
        deployment(T - 15 * H, "d1"),
        # Judged at T - 5h (the start of its minute): 200 requests, 20 bad, 20 allowed:
        # budget 0 < 0.5, a violation of `availability`; `relaxed` freezes below -1 only.
        deployment(T - 5 * H + 30_000, "d2"),
        deployment(T - 2 * H, "d3", status="failure"),  # not a deployment DORA counts
        deployment(T - 25 * H, "d4"),  # before the 1d window
    ]
    found = figures(events, T, policy)
    strict = {"service": "api", "slo": "availability"}
    relaxed = {"service": "api", "slo": "relaxed"}
    assert _get(found, BUDGET, **strict) == 1 - 20 / ((1 - 0.9) * 200)  # 0, exactly
    assert _get(found, FREEZE, **strict) == 1.0  # below 0.5
    assert _get(found, FREEZE, **relaxed) == 0.0
    assert _get(found, VIOLATIONS, window="1d", **strict) == 1.0
    assert _get(found, VIOLATIONS, window="1d", **relaxed) == 0.0
    assert _get(found, START, **strict) == (T - D) / 1000


def test_a_changed_threshold_applies_to_the_state_already_held(
    figures: Callable[..., Figures], sli: Callable[..., tuple[str, Event]]
) -> None:
    T = _utc(2026, 3, 1, 12)
    events = [
        sli(T - 2 * M, 100, 100, {0.3: 70, 0.5: 90, float("inf"): 100}),
        sli(T - M, 100, 100, {0.3: 50, 0.5: 95, float("inf"): 100}),
    ]
    labels = {"service": "api", "slo": "latency", "window": "5m"}
    before = figures(events, T, SloDefinitions())  # built in: 0.3 s
    assert _get(before, "devmetrics_slo_requests_good", **labels) == 120
    relaxed = _definitions(
        """
slos:
  - {name: latency, indicator: {kind: latency, threshold_s: 0.5}, objective: 0.99}
"""
    )
    after = figures(events, T, relaxed)
    assert _get(after, "devmetrics_slo_requests_good", **labels) == 185
    assert _get(after, "devmetrics_slo_sli_ratio", **labels) == 185 / 200


def test_a_ledger_given_new_definitions_recomputes_from_what_it_holds(
    sli: Callable[..., tuple[str, Event]],
) -> None:
    """No event is read again: the next snapshot of the same state uses the new threshold."""
    T = _utc(2026, 3, 1, 12)
    ledger = ProjectLedger("p1")
    for family, event in [sli(T - M, 100, 100, {0.3: 50, 0.5: 95})]:
        ledger.fold(family, event)
    labels = {"service": "api", "slo": "latency", "window": "5m"}
    first = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in ledger.snapshot(T)}
    assert _get(first, "devmetrics_slo_requests_good", **labels) == 50
    ledger.state.slo = _definitions(
        "slos: [{name: latency, indicator: {kind: latency, threshold_s: 0.5}, objective: 0.9}]"
    )
    second = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in ledger.snapshot(T)}
    assert _get(second, "devmetrics_slo_requests_good", **labels) == 95
    assert _get(second, "devmetrics_slo_objective_ratio", service="api", slo="latency") == 0.9
