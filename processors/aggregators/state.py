"""Per-project state: rows folded in any order, from which a snapshot at any T is computed.

Folding is commutative (rows are kept per family, SLI counts are summed into minute buckets),
so late and out-of-order events give the same snapshot as in-order ones. De-duplication is
not done here but by the hour blocks (`ProjectLedger` or the worker's block store).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from processors.aggregators.rows import (
    ChangeRow,
    DeploymentRow,
    IncidentRow,
    ReviewRow,
    RfcRow,
    Row,
    SliRow,
    TaskRow,
    TestRunRow,
)
from processors.aggregators.samples import MINUTE_MS, RETENTION_MS, Sample
from processors.settings import SloPolicy

_MINUTES_PER_HOUR = 60
# Columns of a minute bucket: requests, good (availability), good (latency), samples.
_COLUMNS = 4


class SliSeries:
    """One service's SLI counts in minute buckets, stored as one small array per hour.

    Bucket b holds the samples whose interval ends in (b * 1 min, (b + 1) * 1 min], so for a
    whole-minute T the window (T - W, T] is exactly the buckets [T/1min - W/1min, T/1min - 1].
    """

    __slots__ = ("hour_totals", "hours")

    def __init__(self) -> None:
        self.hours: dict[int, np.ndarray] = {}
        self.hour_totals: dict[int, np.ndarray] = {}

    def add(self, row: SliRow) -> None:
        bucket = (row.t - 1) // MINUTE_MS
        hour, slot = divmod(bucket, _MINUTES_PER_HOUR)
        minutes = self.hours.get(hour)
        if minutes is None:
            minutes = self.hours[hour] = np.zeros((_MINUTES_PER_HOUR, _COLUMNS), dtype=np.int64)
            self.hour_totals[hour] = np.zeros(_COLUMNS, dtype=np.int64)
        counts = (row.total, row.good, row.good_latency, 1)
        minutes[slot] += counts
        self.hour_totals[hour] += counts

    def sums(self, first_bucket: int, last_bucket: int) -> tuple[int, int, int, int]:
        """Exact (requests, good, good latency, samples) over buckets first..last inclusive."""
        acc = np.zeros(_COLUMNS, dtype=np.int64)
        first_hour, last_hour = first_bucket // _MINUTES_PER_HOUR, last_bucket // _MINUTES_PER_HOUR
        for hour, minutes in self.hours.items():
            if hour < first_hour or hour > last_hour:
                continue
            if first_hour < hour < last_hour:
                acc += self.hour_totals[hour]
                continue
            lo = max(first_bucket - hour * _MINUTES_PER_HOUR, 0)
            hi = min(last_bucket - hour * _MINUTES_PER_HOUR, _MINUTES_PER_HOUR - 1)
            if lo <= hi:
                acc += minutes[lo : hi + 1].sum(axis=0)
        return int(acc[0]), int(acc[1]), int(acc[2]), int(acc[3])

    def prune(self, before_hour: int) -> int:
        """Drop hours before `before_hour`; returns how many samples were dropped."""
        dropped = 0
        for hour in [h for h in self.hours if h < before_hour]:
            dropped += int(self.hour_totals.pop(hour)[3])
            del self.hours[hour]
        return dropped

    def __bool__(self) -> bool:
        return bool(self.hours)


class ProjectState:
    """Everything one project's snapshot is computed from; folded row by row."""

    def __init__(self, project_id: str, slo: SloPolicy) -> None:
        self.project_id = project_id
        self.slo = slo
        self.rfc: list[RfcRow] = []
        self.task: list[TaskRow] = []
        self.review: list[ReviewRow] = []
        self.test: list[TestRunRow] = []
        self.change: list[ChangeRow] = []
        self.deployment: list[DeploymentRow] = []
        self.incident: list[IncidentRow] = []
        self.sli: dict[str, SliSeries] = defaultdict(SliSeries)
        self.events_applied = 0
        self.last_event_at: int | None = None

    def apply(self, row: Row) -> None:
        """Fold one (already de-duplicated) row into the state."""
        if isinstance(row, SliRow):
            self.sli[row.service].add(row)
        else:
            self._rows_for(row).append(row)
        self.events_applied += 1
        if self.last_event_at is None or row.t > self.last_event_at:
            self.last_event_at = row.t

    def prune(self, as_of: int) -> None:
        """Forget rows outside the retention (T - 31d, ...]; SLI hours wholly before it."""
        cutoff = as_of - RETENTION_MS
        for name in ("rfc", "task", "review", "test", "change", "deployment", "incident"):
            rows: list[Row] = getattr(self, name)
            if rows and min(r.t for r in rows) <= cutoff:
                kept = [r for r in rows if r.t > cutoff]
                self.events_applied -= len(rows) - len(kept)
                setattr(self, name, kept)
        # An SLI hour is dropped once its last bucket is out of retention.
        before_hour = (cutoff // MINUTE_MS) // _MINUTES_PER_HOUR
        for service in list(self.sli):
            self.events_applied -= self.sli[service].prune(before_hour)
            if not self.sli[service]:
                del self.sli[service]

    def visible(self, rows: list[Row], as_of: int) -> Iterator[Row]:
        """Rows with T - 31d < t <= T: what the state knows as of T."""
        cutoff = as_of - RETENTION_MS
        return (r for r in rows if cutoff < r.t <= as_of)

    def snapshot(self, as_of: int) -> list[Sample]:
        """Every metric of docs/metrics.md as of T (epoch ms), without the project label."""
        from processors.aggregators.dora import dora_samples
        from processors.aggregators.process import process_samples
        from processors.aggregators.slo import slo_samples

        return [
            *dora_samples(self, as_of),
            *slo_samples(self, as_of),
            *process_samples(self, as_of),
        ]

    def _rows_for(self, row: Row) -> list[Row]:
        match row:
            case RfcRow():
                return self.rfc  # type: ignore[return-value]
            case TaskRow():
                return self.task  # type: ignore[return-value]
            case ReviewRow():
                return self.review  # type: ignore[return-value]
            case TestRunRow():
                return self.test  # type: ignore[return-value]
            case ChangeRow():
                return self.change  # type: ignore[return-value]
            case DeploymentRow():
                return self.deployment  # type: ignore[return-value]
            case IncidentRow():
                return self.incident  # type: ignore[return-value]
        raise TypeError(f"not a row: {row!r}")
