"""SliSeries: sparse minute buckets with running sums, exact in any arrival order."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.aggregators.blocks import HourBlock
from processors.aggregators.rows import SliRow
from processors.aggregators.sli import SliSeries, SliSums

pytestmark = pytest.mark.unit

M = 60_000
LE = 0.3


def _row(t: int, total: int, good: int, good_latency: int) -> SliRow:
    return SliRow(t, t, "api", total, good, ((LE, good_latency),))


def _flat(sums: SliSums) -> tuple[int, int, int, int]:
    return sums.requests, sums.good, sums.good_under(LE), sums.samples


def test_window_sums_by_hand() -> None:
    series = SliSeries()
    # Bucket of a sample: its interval end, (b * 1 min, (b + 1) * 1 min].
    series.add(_row(10 * M, 100, 99, 90))  # bucket 9
    series.add(_row(10 * M + 1, 10, 10, 10))  # bucket 10
    series.add(_row(11 * M, 5, 4, 3))  # bucket 10 again
    series.add(_row(13 * M, 7, 7, 7))  # bucket 12
    assert list(series.buckets) == [9, 10, 12]
    assert _flat(series.sums(9, 12)) == (122, 120, 110, 4)
    assert _flat(series.sums(10, 10)) == (15, 14, 13, 2)
    assert _flat(series.sums(11, 11)) == (0, 0, 0, 0)
    assert _flat(series.sums(0, 8)) == (0, 0, 0, 0)
    assert _flat(series.sums(11, 99)) == (7, 7, 7, 1)


def test_a_late_sample_is_merged_before_the_next_read() -> None:
    series = SliSeries()
    series.add(_row(5 * M, 1, 1, 1))  # bucket 4
    series.add(_row(9 * M, 2, 2, 2))  # bucket 8
    series.add(_row(7 * M, 4, 3, 2))  # bucket 6, late
    series.add(_row(9 * M, 8, 8, 8))  # bucket 8 again: adds to the last bucket
    assert _flat(series.sums(5, 7)) == (4, 3, 2, 1)
    assert _flat(series.sums(0, 100)) == (15, 14, 13, 4)
    assert list(series.buckets) == [4, 6, 8]


def test_prune_drops_whole_hours_and_counts_the_samples() -> None:
    series = SliSeries()
    for minute in (10, 50, 70, 130):  # buckets 9, 49 (hour 0), 69 (hour 1), 129 (hour 2)
        series.add(_row(minute * M, minute, minute, minute))
    assert series.prune(1) == 2
    assert _flat(series.sums(0, 1000)) == (200, 200, 200, 2)
    assert _flat(series.sums(60, 69)) == (70, 70, 70, 1)
    series.add(_row(65 * M, 1, 1, 1))  # late, after the prune
    assert _flat(series.sums(0, 1000)) == (201, 201, 201, 3)
    assert series.prune(3) == 3
    assert not series
    series.add(_row(200 * M, 2, 1, 0))
    assert _flat(series.sums(0, 1000)) == (2, 1, 0, 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 600), st.integers(0, 50), st.integers(0, 50)),
        min_size=1,
        max_size=80,
    ),
    st.integers(0, 2**32),
    st.integers(0, 10),
)
def test_any_order_equals_brute_force(
    samples: list[tuple[int, int, int]], seed: int, prune_hours: int
) -> None:
    rows = [_row(minute * M, total, min(good, total), 0) for minute, total, good in samples]
    random.Random(seed).shuffle(rows)
    series = SliSeries()
    half = len(rows) // 2
    for row in rows[:half]:
        series.add(row)
    series.sums(0, 0)  # a read between arrivals
    for row in rows[half:]:
        series.add(row)
    dropped = series.prune(prune_hours)
    kept = [r for r in rows if (r.t - 1) // M >= prune_hours * 60]
    assert dropped == len(rows) - len(kept)
    for first, last in ((0, 700), (30, 90), (prune_hours * 60, prune_hours * 60 + 59)):
        expected = [r for r in kept if first <= (r.t - 1) // M <= last]
        assert _flat(series.sums(first, last)) == (
            sum(r.total for r in expected),
            sum(r.good for r in expected),
            0,
            len(expected),
        )


def test_every_bound_is_kept_and_a_new_bound_widens_the_columns() -> None:
    """Thresholds are applied when reading: each bound's counts are summed over the samples
    carrying it; a bound first seen late (or out of order) is 0 for the samples before it."""
    series = SliSeries()
    series.add(SliRow(2 * M, 1, "api", 10, 9, ((0.1, 4), (0.3, 8))))  # bucket 1
    series.add(SliRow(4 * M, 2, "api", 20, 20, ((0.3, 15), (math.inf, 20))))  # bucket 3
    series.add(SliRow(3 * M, 3, "api", 5, 5, ((0.05, 1), (0.3, 5))))  # bucket 2, late
    assert series.les == [0.05, 0.1, 0.3, math.inf]
    assert series.sums(0, 10) == SliSums(35, 34, 3, {0.05: 1, 0.1: 4, 0.3: 28, math.inf: 20})
    assert series.sums(2, 3) == SliSums(25, 25, 2, {0.05: 1, 0.1: 0, 0.3: 20, math.inf: 20})
    assert series.sums(2, 3).good_under(0.5) == 0  # a bound no sample carries: none good
    series.add(SliRow(4 * M, 4, "api", 1, 1, ((0.5, 1),)))  # bucket 3 again, a fifth bound
    assert series.sums(3, 3) == SliSums(21, 21, 2, {0.05: 0, 0.1: 0, 0.3: 15, 0.5: 1, math.inf: 20})
    assert series.prune(1) == 4
    assert not series


def test_sli_rows_keep_their_buckets_in_blocks_and_old_rows_read_as_one_bound() -> None:
    row = SliRow(5 * M, 7, "api", 10, 9, ((0.1, 4), (0.3, 8), (math.inf, 10)))
    data = HourBlock([row]).to_bytes()
    assert b'"+Inf"' in data
    assert HourBlock.from_bytes(data).rows == [row]
    # Formats 1 and 2 stored the count under the threshold of the time (0.3 s) only.
    legacy = json.dumps({"v": 2, "rows": [["sli", 5 * M, 7, "api", 10, 9, 8]]}).encode()
    assert HourBlock.from_bytes(legacy).rows == [SliRow(5 * M, 7, "api", 10, 9, ((0.3, 8),))]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 400),
            st.sampled_from([0, 1, 7, 65_535, 65_536, 2**32 - 1, 2**32, 2**40]),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 2**32),
    st.lists(st.tuples(st.integers(0, 420), st.integers(0, 420)), min_size=1, max_size=12),
)
def test_packed_counts_widen_and_every_window_and_first_bucket_is_exact(
    samples: list[tuple[int, int, int]], seed: int, windows: list[tuple[int, int]]
) -> None:
    """Counts start 2 bytes wide and widen as larger ones arrive, in any order; every window
    (edges inside or across hours) and every earliest occupied bucket equals a brute force."""
    rows = [
        SliRow(minute * M, i, "api", total, total - bad if total >= bad else 0, ((LE, total),))
        for i, (minute, total, bad) in enumerate(samples)
    ]
    random.Random(seed).shuffle(rows)
    series = SliSeries()
    for index, row in enumerate(rows):
        series.add(row)
        if index % 7 == 3:
            series.sums(0, 0)  # reads between arrivals merge what came late
    for first, last in windows:
        inside = [r for r in rows if first <= (r.t - 1) // M <= last]
        assert _flat(series.sums(first, last)) == (
            sum(r.total for r in inside),
            sum(r.good for r in inside),
            sum(r.total for r in inside),
            len(inside),
        )
        buckets = sorted((r.t - 1) // M for r in inside)
        assert series.first_bucket(first, last) == (buckets[0] if buckets else None)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 5 * 1440),
            st.sampled_from([0, 3, 65_535, 70_000, 2**33]),
            st.integers(0, 2),
            st.sampled_from([(), (0.1,), (0.3,), (0.1, 0.3)]),
        ),
        min_size=1,
        max_size=70,
    ),
    st.integers(0, 2**32),
    st.integers(0, 5 * 24),
    st.lists(st.tuples(st.integers(0, 5 * 1440), st.integers(0, 5 * 1440)), max_size=10),
)
def test_days_sealed_late_samples_and_prunes_stay_exact(
    samples: list[tuple[int, int, int, tuple[float, ...]]],
    seed: int,
    prune_hour: int,
    windows: list[tuple[int, int]],
) -> None:
    """Samples over five days (sealed days, the open one), in any order, with bounds that
    appear late and counts that widen the columns; a prune at any hour; every window, first
    bucket and the bucket list equal a brute force."""
    rows = [
        SliRow(m * M, i, "api", n, n - bad if n >= bad else 0, tuple((le, n) for le in les))
        for i, (m, n, bad, les) in enumerate(samples)
    ]
    random.Random(seed).shuffle(rows)
    series = SliSeries()
    for index, row in enumerate(rows):
        series.add(row)
        if index % 5 == 2:
            series.sums(0, 0)
    dropped = series.prune(prune_hour)
    kept = [r for r in rows if (r.t - 1) // M >= prune_hour * 60]
    assert dropped == len(rows) - len(kept)
    assert series.buckets == sorted({(r.t - 1) // M for r in kept})
    for first, last in [*windows, (0, 6 * 1440)]:
        inside = [r for r in kept if first <= (r.t - 1) // M <= last]
        got = series.sums(first, last)
        assert (got.requests, got.good, got.samples) == (
            sum(r.total for r in inside),
            sum(r.good for r in inside),
            len(inside),
        )
        for le in (0.1, 0.3):
            assert got.good_under(le) == sum(n for r in inside for b, n in r.latency if b == le)
        buckets = sorted((r.t - 1) // M for r in inside)
        assert series.first_bucket(first, last) == (buckets[0] if buckets else None)
        series.release()
    assert bool(series) == bool(kept)
