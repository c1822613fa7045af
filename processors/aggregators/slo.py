"""SLO/SLI state of one project's services as of T (docs/metrics.md, "SLO").

The SLOs of a service are those its project's SLO definitions give it
(`core.slo_definitions`); the indicator's threshold is applied here, to the latency buckets
the state keeps, so a changed definition changes the next snapshot without re-ingestion.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core import catalogue
from core.slo_definitions import Period, SloDefinition
from processors.aggregators.samples import (
    DAY_MS,
    MINUTE_MS,
    RETENTION_MS,
    SLO_WINDOWS,
    WINDOWS_MS,
    Sample,
)

if TYPE_CHECKING:
    from processors.aggregators.sli import SliSeries, SliSums
    from processors.aggregators.state import ProjectState

POLICY_WINDOW_MS = DAY_MS
"""The policy-violation window (catalogue.POLICY_WINDOWS)."""


def _buckets(start: int, end: int) -> tuple[int, int]:
    """First and last minute bucket whose end lies in (start, end]; exact for whole minutes."""
    return start // MINUTE_MS, end // MINUTE_MS - 1


@lru_cache(maxsize=4096)
def period_start(period: Period, as_of: int) -> int:
    """The exclusive start S of the period that holds T: the samples of (S, T] count.

    Rolling: T - N days. Calendar: the latest local midnight starting a month (or an ISO week,
    Monday) strictly before T in the period's zone, so at a boundary T the period just ended
    is still the current one (complete), as every window here is (start, end].
    """
    if period.rolling_days is not None:
        return as_of - period.rolling_days * DAY_MS
    zone = ZoneInfo(period.timezone)
    local = datetime.fromtimestamp((as_of - 1) / 1000, UTC).astimezone(zone)
    day = local.date()
    if period.calendar == "month":
        day = day.replace(day=1)
    else:
        day -= timedelta(days=day.weekday())
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return int(start.timestamp()) * 1000


def _good(sums: SliSums, definition: SloDefinition) -> int:
    threshold = definition.indicator.threshold_s
    return sums.good if threshold is None else sums.good_under(threshold)


def period_counts(
    series: SliSeries, definition: SloDefinition, as_of: int, held_from: int
) -> tuple[int, int]:
    """(total, good) requests of the period that holds `as_of`, counting only the samples
    after `held_from` (T - 31d: what the state holds)."""
    start = max(period_start(definition.period, as_of), held_from)
    sums = series.sums(*_buckets(start, as_of))
    return sums.requests, _good(sums, definition)


def _budget(total: int, good: int, objective: float) -> float | None:
    """1 - bad / ((1 - objective) * total); None without requests."""
    return None if total == 0 else 1 - (total - good) / ((1 - objective) * total)


def _frozen(total: int, good: int, definition: SloDefinition) -> bool:
    """Whether the budget remaining is below `freeze_below`, decided exactly: objective and
    level read as the decimals they are written as, so a budget spent exactly (remaining 0)
    does not freeze under the default level 0, whatever the float rounding of the ratio."""
    if total == 0:
        return False
    allowed = (1 - Fraction(repr(definition.objective))) * total
    return (total - good) > (1 - Fraction(repr(definition.freeze_below))) * allowed


def slo_samples(state: ProjectState, as_of: int) -> list[Sample]:
    """Per service with a sample in (T - 31d, T]: its SLOs' counts, SLI, burn rate, budget,
    objective, period SLI and start, deploy freeze and policy violations."""
    samples: list[Sample] = []
    held_from = as_of - RETENTION_MS
    # Deployments of the policy window, each judged at the start of its minute (only the
    # rows of that window are materialised: the window is within the retention).
    deployed = [
        (row.t // MINUTE_MS) * MINUTE_MS
        for row in state.deployment.visible(as_of - POLICY_WINDOW_MS, as_of)
        if row.counted
    ]
    for service in sorted(state.sli):
        series: SliSeries = state.sli[service]
        if series.sums(*_buckets(held_from, as_of)).samples == 0:
            continue
        window_sums = {w: series.sums(*_buckets(as_of - WINDOWS_MS[w], as_of)) for w in SLO_WINDOWS}
        for definition in state.slo.effective(state.project_id, service):
            objective = definition.objective
            base = {"service": service, "slo": definition.name}
            for window in SLO_WINDOWS:
                sums = window_sums[window]
                total, good = sums.requests, _good(sums, definition)
                labels = {**base, "window": window}
                samples.append(Sample(catalogue.SLO_REQUESTS.name, labels, float(total)))
                samples.append(Sample(catalogue.SLO_REQUESTS_GOOD.name, labels, float(good)))
                if total:
                    sli = good / total
                    samples.append(Sample(catalogue.SLO_SLI_RATIO.name, labels, sli))
                    samples.append(
                        Sample(catalogue.SLO_BURN_RATE.name, labels, (1 - sli) / (1 - objective))
                    )
            start = period_start(definition.period, as_of)
            total_p, good_p = period_counts(series, definition, as_of, held_from)
            budget = _budget(total_p, good_p, objective)
            if budget is not None:
                samples.append(
                    Sample(catalogue.SLO_ERROR_BUDGET_REMAINING_RATIO.name, base, budget)
                )
                samples.append(Sample(catalogue.SLO_PERIOD_SLI_RATIO.name, base, good_p / total_p))
            samples.append(Sample(catalogue.SLO_OBJECTIVE_RATIO.name, base, objective))
            samples.append(Sample(catalogue.SLO_PERIOD_START_TIMESTAMP.name, base, start / 1000))
            frozen = _frozen(total_p, good_p, definition)
            samples.append(Sample(catalogue.SLO_DEPLOY_FREEZE.name, base, float(frozen)))
            violations = sum(
                _frozen(*period_counts(series, definition, at, held_from), definition)
                for at in deployed
            )
            samples.append(
                Sample(
                    catalogue.SLO_POLICY_VIOLATIONS.name,
                    {**base, "window": catalogue.POLICY_WINDOWS[0]},
                    float(violations),
                )
            )
    return samples
