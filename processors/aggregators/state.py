"""Per-project state: rows folded in any order, from which a snapshot at any T is computed.

Folding is commutative (rows are kept per family, SLI counts are summed into minute buckets),
so late and out-of-order events give the same snapshot as in-order ones. De-duplication is
not done here but by the hour blocks (`ProjectLedger` or the worker's block store).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np

from core.catalogue import AGENT_TOP_N
from core.slo_definitions import SloDefinitions
from processors.aggregators.columns import RowColumns, StringTable
from processors.aggregators.rows import (
    ChangeRow,
    DeploymentRow,
    IncidentRow,
    ReviewRow,
    RfcRow,
    Row,
    SliRow,
    TaskRow,
    TeamMark,
    TestRunRow,
    latest_team,
)
from processors.aggregators.samples import MINUTE_MS, RETENTION_MS

R = TypeVar("R", bound=Row)

_MINUTES_PER_HOUR = 60
# The fixed columns of a minute bucket: requests, good (availability), samples; then one
# column per latency bound (`SliSeries.les`).
_FIXED = 3
_SAMPLES = 2


class SliSums(NamedTuple):
    """Sums of an SLI series over some minute buckets."""

    requests: int
    good: int
    samples: int
    latency: dict[float, int]
    """Per latency bucket bound: the sum of that bucket's counts over the samples carrying it."""

    def good_under(self, threshold_s: float) -> int:
        """Requests at or under a latency bound; samples without that bucket count none."""
        return self.latency.get(threshold_s, 0)


class SliSeries:
    """One service's SLI counts in minute buckets: only minutes holding a sample, with running sums.

    Bucket b holds the samples whose interval ends in (b * 1 min, (b + 1) * 1 min], so for a
    whole-minute T the window (T - W, T] is exactly the buckets [T/1min - W/1min, T/1min - 1].
    `buckets` is ascending; `cum` holds, for each of them, the column sums of every sample up
    to and including that bucket (flat, `width` per bucket): requests, good, samples, then one
    column per latency bound any sample carried (`les`, ascending). A window sum is two binary
    searches and a subtraction. `base` is the running sum of what pruning dropped. Samples in
    bucket order (backfills, live traffic) append in O(1); an earlier bucket waits in `_late`
    and is merged in before the next read. A new bound widens every row by one column (rare:
    a service's samples carry the same bounds). 8 bytes per column per occupied minute.
    """

    __slots__ = ("_late", "base", "buckets", "cum", "les")

    def __init__(self) -> None:
        self.buckets = array("q")
        self.cum = array("q")
        self.les: list[float] = []
        self.base: list[int] = [0] * _FIXED
        self._late: list[tuple[int, list[int]]] = []

    @property
    def width(self) -> int:
        return _FIXED + len(self.les)

    def _vector(self, row: SliRow) -> list[int]:
        les = self.les
        for le, _ in row.latency:
            if le not in les:
                self._add_bound(le)
        vector = [row.total, row.good, 1] + [0] * len(les)
        for le, count in row.latency:
            vector[_FIXED + les.index(le)] = count
        return vector

    def _add_bound(self, le: float) -> None:
        """A column for a new latency bound, 0 in every bucket so far."""
        at = _FIXED + bisect_left(self.les, le)
        width = self.width
        self.les.insert(at - _FIXED, le)
        if self.buckets:
            own = np.frombuffer(self.cum, dtype=np.int64).reshape(len(self.buckets), width)
            self.cum = array("q", np.insert(own, at, 0, axis=1).tobytes())
        self.base.insert(at, 0)
        for _, vector in self._late:
            vector.insert(at, 0)

    def add(self, row: SliRow) -> None:
        bucket = (row.t - 1) // MINUTE_MS
        vector = self._vector(row)
        buckets, cum, width = self.buckets, self.cum, self.width
        last = buckets[-1] if buckets else None
        if last is None or bucket > last:
            buckets.append(bucket)
            previous = cum[-width:] if cum else self.base
            cum.extend([a + b for a, b in zip(previous, vector, strict=True)])
        elif bucket == last:
            for i, value in enumerate(vector, start=len(cum) - width):
                cum[i] += value
        else:
            self._late.append((bucket, vector))

    def _merge_late(self) -> None:
        """Fold the out-of-order samples in: rebuild the running sums once for all of them."""
        late, self._late = self._late, []
        n, width = len(self.buckets), self.width
        own = np.frombuffer(self.cum, dtype=np.int64).reshape(n, width)
        raw = np.diff(own, axis=0, prepend=np.array([self.base], dtype=np.int64))
        extra = np.array([vector for _, vector in late], dtype=np.int64).reshape(-1, width)
        keys = np.concatenate(
            [np.frombuffer(self.buckets, dtype=np.int64), np.array([b for b, _ in late])]
        )
        unique, where = np.unique(keys, return_inverse=True)
        counts = np.zeros((len(unique), width), dtype=np.int64)
        np.add.at(counts, where, np.concatenate([raw, extra]))
        running = np.cumsum(counts, axis=0)
        self.buckets = array("q", unique.astype(np.int64).tobytes())
        self.cum = array("q", running.tobytes())
        self.base = [0] * width

    def _running(self, index: int) -> Sequence[int]:
        """The running sums through bucket number `index` (-1: before the first)."""
        if index < 0:
            return self.base
        width = self.width
        at = index * width
        return self.cum[at : at + width]

    def sums(self, first_bucket: int, last_bucket: int) -> SliSums:
        """Exact sums over buckets first..last inclusive."""
        if self._late:
            self._merge_late()
        lo = bisect_left(self.buckets, first_bucket) - 1
        hi = bisect_right(self.buckets, last_bucket) - 1
        if hi <= lo:
            return SliSums(0, 0, 0, {})
        a, b = self._running(lo), self._running(hi)
        diff = [y - x for x, y in zip(a, b, strict=True)]
        return SliSums(diff[0], diff[1], diff[2], dict(zip(self.les, diff[_FIXED:], strict=True)))

    def first_bucket(self, first_bucket: int, last_bucket: int) -> int | None:
        """The earliest occupied bucket in first..last inclusive, or None."""
        if self._late:
            self._merge_late()
        at = bisect_left(self.buckets, first_bucket)
        if at < len(self.buckets) and self.buckets[at] <= last_bucket:
            return self.buckets[at]
        return None

    def prune(self, before_hour: int) -> int:
        """Drop buckets of hours before `before_hour`; returns how many samples were dropped."""
        if self._late:
            self._merge_late()
        cut = bisect_left(self.buckets, before_hour * _MINUTES_PER_HOUR)
        if cut == 0:
            return 0
        dropped_base = list(self._running(cut - 1))
        dropped = dropped_base[_SAMPLES] - self.base[_SAMPLES]
        self.base = dropped_base
        del self.buckets[:cut]
        del self.cum[: cut * self.width]
        return dropped

    def __bool__(self) -> bool:
        return bool(self.buckets) or bool(self._late)


class ProjectState:
    """Everything one project's snapshot is computed from; folded row by row."""

    def __init__(
        self, project_id: str, slo: SloDefinitions, agent_top_n: int = AGENT_TOP_N
    ) -> None:
        self.project_id = project_id
        self.slo = slo
        self.agent_top_n = agent_top_n
        """How many of the busiest agents keep their name as `agent` (docs/metrics.md)."""
        self.strings = StringTable()
        self.rfc = RowColumns(RfcRow, self.strings)
        self.task = RowColumns(TaskRow, self.strings)
        self.review = RowColumns(ReviewRow, self.strings)
        self.test = RowColumns(TestRunRow, self.strings)
        self.change = RowColumns(ChangeRow, self.strings)
        self.deployment = RowColumns(DeploymentRow, self.strings)
        self.incident = RowColumns(IncidentRow, self.strings)
        self._by_type: dict[type[Any], RowColumns[Any]] = {
            rows.cls: rows for rows in self._families()
        }
        self.sli: dict[str, SliSeries] = defaultdict(SliSeries)
        self.events_applied = 0
        self.last_event_at: int | None = None
        self.team_mark: TeamMark | None = None
        """The winning team statement of the held events (`latest_team`)."""

    def apply(self, row: Row) -> None:
        """Fold one (already de-duplicated) row into the state."""
        if isinstance(row, SliRow):
            self.sli[row.service].add(row)
        else:
            self._rows_for(row).append(row)
        self.events_applied += 1
        if self.last_event_at is None or row.t > self.last_event_at:
            self.last_event_at = row.t

    def note_team(self, mark: TeamMark | None) -> None:
        """Fold an event's (or a whole hour block's) team statement in; order does not matter."""
        self.team_mark = latest_team(self.team_mark, mark)

    @property
    def team(self) -> str | None:
        """The project's team: that of its latest event stating one; None if none did."""
        return None if self.team_mark is None else self.team_mark.team

    def prune(self, as_of: int) -> None:
        """Forget rows outside the retention (T - 31d, ...]; SLI hours wholly before it.

        The team goes too once its event is out: every other statement is older, so a
        rebuild from the retained blocks finds none either.
        """
        cutoff = as_of - RETENTION_MS
        if self.team_mark is not None and self.team_mark.t <= cutoff:
            self.team_mark = None
        dropped = sum(rows.prune(cutoff) for rows in self._families())
        self.events_applied -= dropped
        if dropped and len(self.strings) > 64:
            self.strings.compact(self._families())
        # An SLI hour is dropped once its last bucket is out of retention.
        before_hour = (cutoff // MINUTE_MS) // _MINUTES_PER_HOUR
        for service in list(self.sli):
            self.events_applied -= self.sli[service].prune(before_hour)
            if not self.sli[service]:
                del self.sli[service]

    def history_start(self, as_of: int) -> int | None:
        """H of docs/metrics.md ("Tiers over a partly covered history"): the start of the UTC
        minute of the earliest event visible at T, or None when none is.

        An SLI minute bucket that straddles T - 31d is taken as visible: it can only be the
        earliest when the history already spans more than 30 days, where every coverage is 1.
        """
        cutoff = as_of - RETENTION_MS
        earliest: int | None = None
        for rows in self._families():
            t = rows.times()
            times = t[(t > cutoff) & (t <= as_of)]
            if len(times) and (earliest is None or int(times.min()) < earliest):
                earliest = int(times.min())
        start = None if earliest is None else (earliest - 1) // MINUTE_MS * MINUTE_MS
        last_bucket = (as_of - 1) // MINUTE_MS
        first_bucket = cutoff // MINUTE_MS
        for series in self.sli.values():
            bucket = series.first_bucket(first_bucket, last_bucket)
            if bucket is not None and (start is None or bucket * MINUTE_MS < start):
                start = bucket * MINUTE_MS
        return start

    def visible(self, rows: RowColumns[R], as_of: int) -> list[R]:
        """Rows with T - 31d < t <= T: what the state knows as of T (kept for the rest of
        the snapshot, until `release`)."""
        return rows.visible(as_of - RETENTION_MS, as_of)

    def release(self) -> None:
        """Forget the rows materialised for a snapshot: only the packed columns stay held."""
        for rows in self._families():
            rows.release()

    def _families(self) -> list[RowColumns[Any]]:
        return [
            self.rfc,
            self.task,
            self.review,
            self.test,
            self.change,
            self.deployment,
            self.incident,
        ]

    def _rows_for(self, row: Row) -> RowColumns[Any]:
        rows = self._by_type.get(type(row))
        if rows is None:
            raise TypeError(f"not a row: {row!r}")
        return rows
