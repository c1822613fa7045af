"""Sample values, window names and nearest-rank quantiles shared by every metric family."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import NamedTuple

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Window label -> length in milliseconds (docs/metrics.md, "Conventions").
WINDOWS_MS: dict[str, int] = {
    "5m": 5 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "7d": 7 * DAY_MS,
    "30d": 30 * DAY_MS,
}
DORA_WINDOWS = ("1d", "7d", "30d")
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
PROCESS_WINDOWS = ("1d", "7d")

# State covers the longest window plus one day; older events are rejected as too old.
RETENTION_MS = 31 * DAY_MS

ACTORS = ("ai_agent", "human")
# Exact fractions: in floats 0.9 * 70 is 63.00000000000001, whose ceiling is the wrong rank.
QUANTILES: tuple[tuple[str, Fraction], ...] = (("0.5", Fraction(1, 2)), ("0.9", Fraction(9, 10)))


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
