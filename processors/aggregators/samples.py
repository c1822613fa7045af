"""Sample values and nearest-rank quantiles shared by every metric family; the windows and
quantiles themselves are the metric catalogue's (core.catalogue)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import NamedTuple

from core.catalogue import (
    ACTORS,
    DAY_MS,
    DORA_WINDOWS,
    HOUR_MS,
    MINUTE_MS,
    PROCESS_WINDOWS,
    QUANTILES,
    SLO_WINDOWS,
    WINDOWS_MS,
)

__all__ = [
    "ACTORS",
    "DAY_MS",
    "DORA_WINDOWS",
    "HOUR_MS",
    "MINUTE_MS",
    "PROCESS_WINDOWS",
    "QUANTILES",
    "RETENTION_MS",
    "SLO_WINDOWS",
    "WINDOWS_MS",
    "Sample",
    "in_window",
    "nearest_rank",
    "quantile_samples",
    "ratio_samples",
]

# State covers the longest window plus one day; older events are rejected as too old.
RETENTION_MS = 31 * DAY_MS


class Sample(NamedTuple):
    """One series value of a project, as `Sample` in schemas/state.avsc (no `project` label)."""

    name: str
    labels: dict[str, str]
    value: float


def nearest_rank(sorted_values: Sequence[float], p: Fraction) -> float:
    """The p-quantile by nearest rank: the value at 1-based rank ceil(p * n) of sorted values."""
    if not sorted_values:
        raise ValueError("nearest_rank of no values is undefined; callers leave the quantile out")
    if not 0 < p <= 1:
        raise ValueError(f"quantile {p} is outside (0, 1]")
    # ceil(a / b) for positive integers, exactly.
    rank = -(-p.numerator * len(sorted_values) // p.denominator)
    return float(sorted_values[rank - 1])


def quantile_samples(name: str, labels: dict[str, str], values: list[float]) -> list[Sample]:
    """p50 and p90 samples of `values` (absent, i.e. no samples, when there are none)."""
    if not values:
        return []
    ordered = sorted(values)
    return [
        Sample(name, {**labels, "quantile": label}, nearest_rank(ordered, p))
        for label, p in QUANTILES
    ]


def ratio_samples(name: str, labels: dict[str, str], num: float, den: float) -> list[Sample]:
    """`num / den` as one division, absent when the denominator is 0."""
    if den == 0:
        return []
    return [Sample(name, labels, num / den)]


def in_window(t: int, as_of: int, window_ms: int) -> bool:
    """Whether event time `t` belongs to the window: T - W < t <= T."""
    return as_of - window_ms < t <= as_of
