"""One service's SLI counts: exact per occupied minute, compressed by day, running sums per day.

SLI samples are additive, so no sample is kept, only the column sums of each occupied minute:
requests, good, samples, then one column per latency bound any sample carried (`les`,
ascending; an SLO's threshold is applied when reading). Bucket b holds the samples whose
interval ends in (b * 1 min, (b + 1) * 1 min], so for a whole-minute T the window (T - W, T]
is exactly the buckets [T/1min - W/1min, T/1min - 1].

Layout, per occupied UTC day (`days`): the running column sums through that day (`day_cum`,
8 bytes a column) and the day's minute table. The latest day's table is open: its minutes
(2 bytes) and counts (the narrowest unsigned type holding them: 2, 4 or 8 bytes) are arrays
that samples append to. When a later day begins, the open table is sealed: compressed (zlib)
with the good and bucket columns stored as their difference from requests, which are small,
so a sealed day costs about a third of its raw size (~10 bytes a sample with six bounds).

A window sum is the difference of two days' running sums less the minutes of its two edge
days outside the window: at most two day tables read (decompressed once per snapshot and let
go by `release`). A sample of the open day's last minute or later is folded in O(1); an
earlier one waits in `_late` and is merged in (the affected days rebuilt) before the next
read. A new latency bound widens every table by one column (rare).
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from processors.aggregators.rows import SliRow
from processors.aggregators.samples import MINUTE_MS

MINUTES_PER_DAY = 1440
_MINUTES_PER_HOUR = 60
# The fixed columns: requests, good (availability), samples; then one per latency bound.
_FIXED = 3
_SAMPLES = 2
# Typecodes of the open day's counts, narrowest first; widened when a count does not fit.
_WIDTHS = (("H", 0xFFFF), ("I", 0xFFFFFFFF), ("q", None))
_LIMITS = dict(_WIDTHS)
# Sealed tables: the narrowest of these holding every (transformed) value.
_SEALED_TYPES = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.int64))
_ZLIB_LEVEL = 6

Table = tuple["np.ndarray[Any, np.dtype[np.int64]]", "np.ndarray[Any, np.dtype[np.int64]]"]
"""A day's minute table: ascending distinct minutes of the day, and their (n x width) counts."""


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


def _shuffled(values: np.ndarray[Any, Any]) -> bytes:
    """The values' bytes grouped by significance (all first bytes, then all second bytes...):
    the high bytes of small counts are mostly zero and compress to almost nothing."""
    width = values.dtype.itemsize
    return values.view(np.uint8).reshape(-1, width).T.tobytes()


def _unshuffled(data: bytes, dtype: np.dtype[Any], n: int) -> np.ndarray[Any, Any]:
    width = dtype.itemsize
    grouped = np.frombuffer(data, dtype=np.uint8, count=n * width).reshape(width, n)
    return grouped.T.copy().view(dtype).reshape(n)


def _seal(minutes: np.ndarray[Any, Any], counts: np.ndarray[Any, Any]) -> bytes:
    """A day's table compressed: the minutes as steps from the previous one, then the columns
    one after another (good and the latency buckets as their difference from requests), the
    bytes of each part grouped by significance (`_shuffled`). About 6 bytes a sample of six
    bounds at one sample a 5 minutes, against 9 without the steps and the grouping."""
    values = counts.astype(np.int64).T.copy()
    if len(values) > 1:
        values[1] = values[0] - values[1]
        values[_FIXED:] = values[0] - values[_FIXED:]
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    dtype = next(
        t
        for t in _SEALED_TYPES
        if t.kind == "i" or (low >= 0 and high <= np.iinfo(t).max)  # int64 holds anything
    )
    header = np.array([len(minutes), _SEALED_TYPES.index(dtype)], dtype=np.int64).tobytes()
    steps = np.diff(minutes.astype(np.uint16), prepend=np.uint16(0))  # ascending: no wrap
    body = _shuffled(steps) + _shuffled(values.astype(dtype).reshape(-1))
    return zlib.compress(header + body, _ZLIB_LEVEL)


def _unseal(data: bytes, width: int) -> Table:
    raw = zlib.decompress(data)
    n, code = (int(v) for v in np.frombuffer(raw, dtype=np.int64, count=2))
    dtype = _SEALED_TYPES[code]
    steps = _unshuffled(raw[16 : 16 + 2 * n], np.dtype(np.uint16), n)
    minutes = np.cumsum(steps, dtype=np.int64)
    values = _unshuffled(raw[16 + 2 * n :], dtype, n * width)
    counts = values.astype(np.int64).reshape(width, n)
    if width > 1:
        counts[1] = counts[0] - counts[1]
        counts[_FIXED:] = counts[0] - counts[_FIXED:]
    return minutes, counts.T.copy()


class SliSeries:
    """One service's SLI counts in minute buckets, exact in any arrival order (module doc)."""

    __slots__ = (
        "_code",
        "_late",
        "_tables",
        "day_cum",
        "days",
        "les",
        "open_counts",
        "open_minutes",
        "sealed",
    )

    def __init__(self) -> None:
        self.les: list[float] = []
        self.days = array("q")
        self.day_cum = array("q")
        self.sealed: list[bytes] = []
        """The compressed table of every day but the last (the open one)."""
        self._code = _WIDTHS[0][0]
        self.open_minutes = array("H")
        self.open_counts = array(self._code)
        self._late: list[tuple[int, list[int]]] = []
        self._tables: dict[int, Table] = {}

    @property
    def width(self) -> int:
        return _FIXED + len(self.les)

    # -- folding -------------------------------------------------------------------------

    def _vector(self, row: SliRow) -> list[int]:
        les = self.les
        for le, _ in row.latency:
            if le not in les:
                self._add_bound(le)
        vector = [row.total, row.good, 1] + [0] * len(les)
        for le, count in row.latency:
            vector[_FIXED + les.index(le)] = count
        return vector

    def _fits(self, values: list[int]) -> bool:
        limit = _LIMITS[self._code]
        return limit is None or (min(values) >= 0 and max(values) <= limit)

    def _store_open(self, counts: np.ndarray[Any, Any]) -> None:
        """Keep the open day's counts in the narrowest type holding every one of them."""
        low = int(counts.min()) if counts.size else 0
        high = int(counts.max()) if counts.size else 0
        code = next(
            code for code, limit in _WIDTHS if limit is None or (low >= 0 and high <= limit)
        )
        self._code = code
        self.open_counts = array(code, counts.astype(np.dtype(code)).tobytes())

    def _open_table(self) -> Table:
        minutes = np.frombuffer(self.open_minutes, dtype=np.uint16).astype(np.int64)
        counts = np.frombuffer(self.open_counts, dtype=self.open_counts.typecode)
        return minutes, counts.astype(np.int64).reshape(len(minutes), self.width)

    def add(self, row: SliRow) -> None:
        bucket = (row.t - 1) // MINUTE_MS
        vector = self._vector(row)
        day, minute = divmod(bucket, MINUTES_PER_DAY)
        days, width = self.days, self.width
        last_day = days[-1] if days else None
        if last_day is not None and (
            day < last_day or (day == last_day and minute < self.open_minutes[-1])
        ):
            self._late.append((bucket, vector))
            return
        self._tables.pop(len(days) - 1, None)  # the open day's decoded table, if any
        if day != last_day:
            if last_day is not None:
                self.sealed.append(_seal(*self._open_table()))
            previous = self.day_cum[-width:] if self.day_cum else [0] * width
            self.day_cum.extend([a + b for a, b in zip(previous, vector, strict=True)])
            days.append(day)
            self.open_minutes = array("H", [minute])
            self._store_open(np.array([vector], dtype=np.int64))
            return
        counts = self.open_counts
        if minute == self.open_minutes[-1]:
            at = len(counts) - width
            merged = [a + b for a, b in zip(counts[at:], vector, strict=True)]
            if self._fits(merged):
                counts[at:] = array(counts.typecode, merged)
            else:
                self._store_open(np.vstack([self._open_table()[1][:-1], [merged]]))
        else:
            if self._fits(vector):
                counts.extend(vector)
            else:
                self._store_open(np.vstack([self._open_table()[1], [vector]]))
            self.open_minutes.append(minute)
        cum = self.day_cum
        for i, value in enumerate(vector, start=len(cum) - width):
            cum[i] += value

    def _add_bound(self, le: float) -> None:
        """A column for a new latency bound, 0 in every minute and day so far."""
        at = _FIXED + bisect_left(self.les, le)
        tables = [self._table(i) for i in range(len(self.days))]
        cum = self._cum_matrix()
        self.les.insert(at - _FIXED, le)
        widened = [(m, np.insert(c, at, 0, axis=1)) for m, c in tables]
        self._set_days(np.frombuffer(self.days, dtype=np.int64).copy(), widened)
        self.day_cum = array("q", np.insert(cum, at, 0, axis=1).astype(np.int64).tobytes())
        for _, vector in self._late:
            vector.insert(at, 0)

    def _merge_late(self) -> None:
        """Fold the out-of-order samples in: rebuild the days they fall in, once for all."""
        late, self._late = self._late, []
        width = self.width
        by_day: dict[int, list[tuple[int, list[int]]]] = {}
        for bucket, vector in late:
            day, minute = divmod(bucket, MINUTES_PER_DAY)
            by_day.setdefault(day, []).append((minute, vector))
        days = np.frombuffer(self.days, dtype=np.int64).copy()
        totals = np.diff(self._cum_matrix(), axis=0, prepend=np.zeros((1, width), np.int64))
        tables = {int(d): self._table(i) for i, d in enumerate(days) if int(d) in by_day}
        all_days = np.union1d(days, np.array(list(by_day), dtype=np.int64))
        where = {int(d): i for i, d in enumerate(days)}
        new_tables: list[Table | bytes] = []
        new_totals = np.zeros((len(all_days), width), dtype=np.int64)
        for i, day in enumerate(all_days.tolist()):
            if day not in by_day:
                new_tables.append(self._stored(where[day]))
                new_totals[i] = totals[where[day]]
                continue
            minutes, counts = tables.get(
                day, (np.empty(0, np.int64), np.empty((0, width), np.int64))
            )
            extra_minutes = np.array([m for m, _ in by_day[day]], dtype=np.int64)
            extra = np.array([v for _, v in by_day[day]], dtype=np.int64).reshape(-1, width)
            unique, at = np.unique(np.concatenate([minutes, extra_minutes]), return_inverse=True)
            merged = np.zeros((len(unique), width), dtype=np.int64)
            np.add.at(merged, at, np.concatenate([counts, extra]))
            new_tables.append((unique, merged))
            new_totals[i] = merged.sum(axis=0)
        self._set_days(all_days, new_tables)
        self.day_cum = array("q", np.cumsum(new_totals, axis=0).astype(np.int64).tobytes())

    def _set_days(self, days: np.ndarray[Any, Any], tables: Sequence[Table | bytes]) -> None:
        """Every day's table from scratch: all but the last sealed (a day given sealed stays
        as it is), the last open."""
        self._tables = {}
        self.days = array("q", days.astype(np.int64).tobytes())
        self.sealed = [t if isinstance(t, bytes) else _seal(*t) for t in tables[:-1]]
        if tables:
            last = tables[-1]
            minutes, counts = _unseal(last, self.width) if isinstance(last, bytes) else last
            self.open_minutes = array("H", minutes.astype(np.uint16).tobytes())
            self._store_open(counts)
        else:
            self.open_minutes = array("H")
            self._store_open(np.zeros((0, self.width), dtype=np.int64))

    def _stored(self, index: int) -> Table | bytes:
        """The day at `index` as it is held: sealed bytes, or the open day's table."""
        return self.sealed[index] if index < len(self.sealed) else self._open_table()

    # -- reading -------------------------------------------------------------------------

    def _cum_matrix(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        own = np.frombuffer(self.day_cum, dtype=np.int64)
        return own.reshape(len(self.days), self.width)

    def _table(self, index: int) -> Table:
        """The minute table of the day at `index`, decoded (kept until `release`)."""
        if index == len(self.days) - 1:
            return self._open_table()
        table = self._tables.get(index)
        if table is None:
            table = self._tables[index] = _unseal(self.sealed[index], self.width)
        return table

    def release(self) -> None:
        """Let the day tables decoded for a snapshot go."""
        self._tables = {}

    def _day_running(self, index: int) -> list[int]:
        """The running sums through the day at `index` (-1: before the first)."""
        width = self.width
        if index < 0:
            return [0] * width
        return list(self.day_cum[index * width : (index + 1) * width])

    def sums(self, first_bucket: int, last_bucket: int) -> SliSums:
        """Exact sums over buckets first..last inclusive."""
        if self._late:
            self._merge_late()
        first_day, first_minute = divmod(first_bucket, MINUTES_PER_DAY)
        last_day, last_minute = divmod(last_bucket, MINUTES_PER_DAY)
        lo = bisect_left(self.days, first_day)
        hi = bisect_right(self.days, last_day) - 1
        if hi < lo or last_bucket < first_bucket:
            return SliSums(0, 0, 0, {})
        total = np.array(self._day_running(hi), dtype=np.int64) - np.array(
            self._day_running(lo - 1), dtype=np.int64
        )
        if self.days[lo] == first_day:  # less the first day's minutes before the window
            minutes, counts = self._table(lo)
            total -= counts[: np.searchsorted(minutes, first_minute, "left")].sum(axis=0)
        if self.days[hi] == last_day:  # and the last day's minutes after it
            minutes, counts = self._table(hi)
            total -= counts[np.searchsorted(minutes, last_minute, "right") :].sum(axis=0)
        values = total.tolist()
        return SliSums(
            values[0], values[1], values[2], dict(zip(self.les, values[_FIXED:], strict=True))
        )

    def first_bucket(self, first_bucket: int, last_bucket: int) -> int | None:
        """The earliest occupied bucket in first..last inclusive, or None."""
        if self._late:
            self._merge_late()
        first_day, first_minute = divmod(first_bucket, MINUTES_PER_DAY)
        index = bisect_left(self.days, first_day)
        found: int | None = None
        if index < len(self.days) and self.days[index] == first_day:
            minutes, _ = self._table(index)
            at = int(np.searchsorted(minutes, first_minute, "left"))
            if at < len(minutes):
                found = first_day * MINUTES_PER_DAY + int(minutes[at])
            index += 1
        if found is None and index < len(self.days):
            found = self.days[index] * MINUTES_PER_DAY + int(self._table(index)[0][0])
        return found if found is not None and found <= last_bucket else None

    @property
    def buckets(self) -> list[int]:
        """The occupied minute buckets, ascending."""
        if self._late:
            self._merge_late()
        out: list[int] = []
        for index, day in enumerate(self.days):
            out.extend((day * MINUTES_PER_DAY + self._table(index)[0]).tolist())
        return out

    def prune(self, before_hour: int) -> int:
        """Drop the minutes of hours before `before_hour`; returns how many samples went."""
        if self._late:
            self._merge_late()
        cut_bucket = before_hour * _MINUTES_PER_HOUR
        cut_day, cut_minute = divmod(cut_bucket, MINUTES_PER_DAY)
        whole = bisect_left(self.days, cut_day)  # days wholly before the cut
        partial = whole < len(self.days) and self.days[whole] == cut_day and cut_minute > 0
        if partial and whole == 0:  # nothing to drop unless the first day starts before the cut
            stored = self._stored(0)  # read without keeping it decoded
            minutes = (_unseal(stored, self.width) if isinstance(stored, bytes) else stored)[0]
            partial = bool(len(minutes)) and int(minutes[0]) < cut_minute
        if whole == 0 and not partial:
            return 0
        cum = self._cum_matrix()
        dropped = cum[whole - 1].copy() if whole else np.zeros(self.width, dtype=np.int64)
        tables = [self._stored(i) for i in range(whole, len(self.days))]
        emptied = False
        if partial:
            minutes, counts = self._table(whole)
            at = int(np.searchsorted(minutes, cut_minute, "left"))
            dropped = dropped + counts[:at].sum(axis=0)
            tables[0] = (minutes[at:], counts[at:])
            emptied = at == len(minutes)
        days = np.frombuffer(self.days, dtype=np.int64)[whole:].copy()
        kept_cum = cum[whole:] - dropped
        if emptied:  # the cut took the whole of its day
            days, tables, kept_cum = days[1:], tables[1:], kept_cum[1:]
        self._set_days(days, tables)
        self.day_cum = array("q", kept_cum.astype(np.int64).tobytes())
        return int(dropped[_SAMPLES])

    def __bool__(self) -> bool:
        return bool(self.days) or bool(self._late)
