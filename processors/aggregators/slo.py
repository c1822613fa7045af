"""SLO/SLI state of one project's services as of T (docs/metrics.md, "SLO")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import catalogue
from processors.aggregators.samples import (
    DAY_MS,
    MINUTE_MS,
    RETENTION_MS,
    SLO_WINDOWS,
    WINDOWS_MS,
    Sample,
)

if TYPE_CHECKING:
    from processors.aggregators.state import ProjectState, SliSeries

SLOS = ("availability", "latency")


def _buckets(as_of: int, window_ms: int) -> tuple[int, int]:
    """First and last minute bucket whose end lies in (T - W, T]; exact for whole-minute T."""
    return (as_of - window_ms) // MINUTE_MS, as_of // MINUTE_MS - 1


def _slo_counts(sums: tuple[int, int, int, int], slo: str) -> tuple[int, int]:
    requests, good, good_latency, _samples = sums
    return requests, good if slo == "availability" else good_latency


def slo_samples(state: ProjectState, as_of: int) -> list[Sample]:
    """Per service with a sample in (T - 31d, T]: counts, SLI, burn rate, budget, objective."""
    samples: list[Sample] = []
    period_ms = state.slo.period_days * DAY_MS
    for service in sorted(state.sli):
        series: SliSeries = state.sli[service]
        if series.sums(*_buckets(as_of, RETENTION_MS))[3] == 0:
            continue
        target = state.slo.target(service)
        window_sums = {w: series.sums(*_buckets(as_of, WINDOWS_MS[w])) for w in SLO_WINDOWS}
        period_sums = series.sums(*_buckets(as_of, period_ms))
        for slo in SLOS:
            objective = (
                target.availability_objective if slo == "availability" else target.latency_objective
            )
            base = {"service": service, "slo": slo}
            for window in SLO_WINDOWS:
                total, good = _slo_counts(window_sums[window], slo)
                labels = {**base, "window": window}
                samples.append(Sample(catalogue.SLO_REQUESTS.name, labels, float(total)))
                samples.append(Sample(catalogue.SLO_REQUESTS_GOOD.name, labels, float(good)))
                if total:
                    sli = good / total
                    samples.append(Sample(catalogue.SLO_SLI_RATIO.name, labels, sli))
                    samples.append(
                        Sample(catalogue.SLO_BURN_RATE.name, labels, (1 - sli) / (1 - objective))
                    )
            total_p, good_p = _slo_counts(period_sums, slo)
            if total_p:
                remaining = 1 - (total_p - good_p) / ((1 - objective) * total_p)
                samples.append(
                    Sample(catalogue.SLO_ERROR_BUDGET_REMAINING_RATIO.name, base, remaining)
                )
            samples.append(Sample(catalogue.SLO_OBJECTIVE_RATIO.name, base, objective))
    return samples
