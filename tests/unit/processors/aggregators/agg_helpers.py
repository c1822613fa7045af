"""Lookup of sample values by name and labels, for assertions."""

from __future__ import annotations

from datetime import UTC, datetime

from processors.aggregators import Sample

M, H, D = 60_000, 3_600_000, 86_400_000
# A whole-minute as-of time: 2026-03-01 12:00 UTC.
T = int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp() * 1000)


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The value of the series (name, labels), None when absent; fails on duplicates."""
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, f"{name}{labels} appears {len(found)} times"
    return found[0] if found else None


def as_map(samples: list[Sample]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Samples keyed by (name, sorted labels); asserts no series appears twice."""
    out = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
    assert len(out) == len(samples), "a series appears twice"
    return out
