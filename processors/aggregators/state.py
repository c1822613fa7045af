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
from typing import Any, NamedTuple, TypeVar, cast

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


# Typecodes of the minute counts, narrowest first: a series starts at 2 bytes a count and
# widens (all its rows at once) when a count does not fit.
_WIDTHS = (("H", 0xFFFF), ("I", 0xFFFFFFFF), ("q", None))


class SliSeries:
    """One service's SLI counts: exact per occupied minute, packed, with running sums per hour.

    Bucket b holds the samples whose interval ends in (b * 1 min, (b + 1) * 1 min], so for a
    whole-minute T the window (T - W, T] is exactly the buckets [T/1min - W/1min, T/1min - 1].
    Every occupied minute keeps its raw column sums (`counts`, `width` per minute):
    requests, good, samples, then one column per latency bound any sample carried (`les`,
    ascending), in the narrowest unsigned type that holds them (2, then 4, then 8 bytes), and
    its minute of the hour (`offsets`, 1 byte). Per occupied hour (`hours`) the series keeps
    where its minutes start (`starts`) and the running column sums through that hour
    (`hour_cum`, 8 bytes a column). A window sum is the difference of two hours' running sums
    less the minutes of its two edge hours outside the window: two binary searches and two
    slices of at most 60 minutes, exact for any window. A sample of the last minute or a later
    one is folded in O(1); an earlier one waits in `_late` and is merged in (one vectorised
    rebuild) before the next read. A new bound widens every row by one column (rare).
    About 23 bytes an occupied minute with 6 bounds, plus 80 an occupied hour.
    """

    __slots__ = ("_code", "_late", "counts", "hour_cum", "hours", "les", "offsets", "starts")

    def __init__(self) -> None:
        self.les: list[float] = []
        self._code = _WIDTHS[0][0]
        self.offsets = array("B")
        self.counts = array(self._code)
        self.hours = array("q")
        self.starts = array("q")
        self.hour_cum = array("q")
        self._late: list[tuple[int, list[int]]] = []

    @property
    def width(self) -> int:
        return _FIXED + len(self.les)

    @property
    def buckets(self) -> list[int]:
        """The occupied minute buckets, ascending."""
        if self._late:
            self._merge_late()
        return self._bucket_numbers().tolist()

    def _vector(self, row: SliRow) -> list[int]:
        les = self.les
        for le, _ in row.latency:
            if le not in les:
                self._add_bound(le)
        vector = [row.total, row.good, 1] + [0] * len(les)
        for le, count in row.latency:
            vector[_FIXED + les.index(le)] = count
        return vector

    def _matrix(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The minute counts as an (occupied minutes x width) int64 matrix."""
        own = np.frombuffer(self.counts, dtype=self.counts.typecode).astype(np.int64)
        return own.reshape(len(self.offsets), self.width)

    def _bucket_numbers(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        n = len(self.offsets)
        hours = np.frombuffer(self.hours, dtype=np.int64)
        sizes = np.diff(np.append(np.frombuffer(self.starts, dtype=np.int64), n))
        minutes = np.repeat(hours * _MINUTES_PER_HOUR, sizes)
        offsets = np.frombuffer(self.offsets, dtype=np.uint8).astype(np.int64)
        return cast("np.ndarray[Any, np.dtype[np.int64]]", minutes + offsets)

    def _add_bound(self, le: float) -> None:
        """A column for a new latency bound, 0 in every minute and hour so far."""
        at = _FIXED + bisect_left(self.les, le)
        counts, hour_cum, width = self._matrix(), self._hour_matrix(), self.width
        self.les.insert(at - _FIXED, le)
        self._store_counts(np.insert(counts, at, 0, axis=1))
        cum = np.insert(hour_cum.reshape(len(self.hours), width), at, 0, axis=1)
        self.hour_cum = array("q", cum.astype(np.int64).tobytes())
        for _, vector in self._late:
            vector.insert(at, 0)

    def _hour_matrix(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.frombuffer(self.hour_cum, dtype=np.int64).reshape(len(self.hours), self.width)

    def _store_counts(self, counts: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        """Keep the minute counts in the narrowest type holding every one of them."""
        low = int(counts.min()) if counts.size else 0
        high = int(counts.max()) if counts.size else 0
        code = next(
            code for code, limit in _WIDTHS if limit is None or (low >= 0 and high <= limit)
        )
        self._code = code
        self.counts = array(code, counts.astype(np.dtype(code)).tobytes())

    def _fits(self, values: list[int]) -> bool:
        limit = dict(_WIDTHS)[self._code]
        return limit is None or (min(values) >= 0 and max(values) <= limit)

    def add(self, row: SliRow) -> None:
        bucket = (row.t - 1) // MINUTE_MS
        vector = self._vector(row)
        hour, offset = divmod(bucket, _MINUTES_PER_HOUR)
        hours, width = self.hours, self.width
        last_hour = hours[-1] if hours else None
        if last_hour is not None and (
            hour < last_hour or (hour == last_hour and offset < self.offsets[-1])
        ):
            self._late.append((bucket, vector))
            return
        counts = self.counts
        if hour == last_hour and offset == self.offsets[-1]:
            at = len(counts) - width
            merged = [a + b for a, b in zip(counts[at:], vector, strict=True)]
            if not self._fits(merged):
                self._store_counts(np.vstack([self._matrix()[:-1], [merged]]))
            else:
                counts[at:] = array(counts.typecode, merged)
        else:
            if not self._fits(vector):
                self._store_counts(np.vstack([self._matrix(), [vector]]))
            else:
                counts.extend(vector)
            self.offsets.append(offset)
        cum = self.hour_cum
        if hour == last_hour:
            for i, value in enumerate(vector, start=len(cum) - width):
                cum[i] += value
        else:
            previous = cum[-width:] if cum else [0] * width
            cum.extend([a + b for a, b in zip(previous, vector, strict=True)])
            hours.append(hour)
            self.starts.append(len(self.offsets) - 1)

    def _merge_late(self) -> None:
        """Fold the out-of-order samples in: rebuild the series once for all of them."""
        late, self._late = self._late, []
        width = self.width
        extra = np.array([vector for _, vector in late], dtype=np.int64).reshape(-1, width)
        keys = np.concatenate([self._bucket_numbers(), np.array([b for b, _ in late])])
        unique, where = np.unique(keys, return_inverse=True)
        counts = np.zeros((len(unique), width), dtype=np.int64)
        np.add.at(counts, where, np.concatenate([self._matrix(), extra]))
        self._rebuild(unique.astype(np.int64), counts)

    def _rebuild(
        self,
        buckets: np.ndarray[Any, np.dtype[np.int64]],
        counts: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        """Every structure from ascending distinct buckets and their raw counts."""
        hour_of = buckets // _MINUTES_PER_HOUR
        hours, starts = np.unique(hour_of, return_index=True)
        per_hour = (
            np.add.reduceat(counts, starts, axis=0)
            if len(starts)
            else np.zeros((0, self.width), dtype=np.int64)
        )
        self.hours = array("q", hours.astype(np.int64).tobytes())
        self.starts = array("q", starts.astype(np.int64).tobytes())
        self.offsets = array(
            "B", (buckets - hour_of * _MINUTES_PER_HOUR).astype(np.uint8).tobytes()
        )
        self.hour_cum = array("q", np.cumsum(per_hour, axis=0).astype(np.int64).tobytes())
        self._store_counts(counts)

    def _hour_running(self, index: int) -> Sequence[int]:
        """The running sums through the hour at `index` (-1: before the first)."""
        width = self.width
        if index < 0:
            return [0] * width
        return self.hour_cum[index * width : (index + 1) * width]

    def _minutes(self, index: int) -> tuple[int, int]:
        """The rows [start, end) of the minutes of the hour at `index`."""
        end = self.starts[index + 1] if index + 1 < len(self.starts) else len(self.offsets)
        return self.starts[index], end

    def _rows_sum(self, start: int, end: int) -> list[int]:
        width = self.width
        if end <= start:
            return [0] * width
        own = np.frombuffer(self.counts, dtype=self.counts.typecode)[start * width : end * width]
        return own.reshape(end - start, width).sum(axis=0, dtype=np.int64).tolist()

    def sums(self, first_bucket: int, last_bucket: int) -> SliSums:
        """Exact sums over buckets first..last inclusive."""
        if self._late:
            self._merge_late()
        first_hour, first_offset = divmod(first_bucket, _MINUTES_PER_HOUR)
        last_hour, last_offset = divmod(last_bucket, _MINUTES_PER_HOUR)
        lo = bisect_left(self.hours, first_hour)
        hi = bisect_right(self.hours, last_hour) - 1
        if hi < lo or last_bucket < first_bucket:
            return SliSums(0, 0, 0, {})
        total = [
            y - x for x, y in zip(self._hour_running(lo - 1), self._hour_running(hi), strict=True)
        ]
        offsets = self.offsets
        if self.hours[lo] == first_hour:  # leave out the first hour's minutes before the window
            start, end = self._minutes(lo)
            cut = bisect_left(offsets, first_offset, start, end)
            total = [a - b for a, b in zip(total, self._rows_sum(start, cut), strict=True)]
        if self.hours[hi] == last_hour:  # and the last hour's minutes after it
            start, end = self._minutes(hi)
            cut = bisect_right(offsets, last_offset, start, end)
            total = [a - b for a, b in zip(total, self._rows_sum(cut, end), strict=True)]
        return SliSums(
            total[0], total[1], total[2], dict(zip(self.les, total[_FIXED:], strict=True))
        )

    def first_bucket(self, first_bucket: int, last_bucket: int) -> int | None:
        """The earliest occupied bucket in first..last inclusive, or None."""
        if self._late:
            self._merge_late()
        first_hour, first_offset = divmod(first_bucket, _MINUTES_PER_HOUR)
        index = bisect_left(self.hours, first_hour)
        found: int | None = None
        if index < len(self.hours) and self.hours[index] == first_hour:
            start, end = self._minutes(index)
            at = bisect_left(self.offsets, first_offset, start, end)
            if at < end:
                found = first_hour * _MINUTES_PER_HOUR + self.offsets[at]
            index += 1
        if found is None and index < len(self.hours):
            found = self.hours[index] * _MINUTES_PER_HOUR + self.offsets[self.starts[index]]
        return found if found is not None and found <= last_bucket else None

    def prune(self, before_hour: int) -> int:
        """Drop the hours before `before_hour`; returns how many samples were dropped."""
        if self._late:
            self._merge_late()
        cut = bisect_left(self.hours, before_hour)
        if cut == 0:
            return 0
        width = self.width
        dropped_cum = np.array(self._hour_running(cut - 1), dtype=np.int64)
        first_row = self.starts[cut] if cut < len(self.starts) else len(self.offsets)
        del self.hours[:cut]
        del self.offsets[:first_row]
        del self.counts[: first_row * width]
        self.starts = array(
            "q", (np.frombuffer(self.starts, dtype=np.int64)[cut:] - first_row).tobytes()
        )
        self.hour_cum = array("q", (self._hour_matrix_after(cut) - dropped_cum).tobytes())
        return int(dropped_cum[_SAMPLES])

    def _hour_matrix_after(self, cut: int) -> np.ndarray[Any, np.dtype[np.int64]]:
        own = np.frombuffer(self.hour_cum, dtype=np.int64)
        return own[cut * self.width :].reshape(-1, self.width)

    def __bool__(self) -> bool:
        return bool(self.hours) or bool(self._late)


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
