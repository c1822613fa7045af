"""Packed state: rows in typed columns with a per-project string table, blocks kept encoded,
the hours of a project as a sorted array. Each must give back exactly what went in."""

from __future__ import annotations

import json
import math
import random

import pytest
from agg_helpers import D, H, T
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.aggregators.blocks import BLOCK_FORMAT, HourBlock, HourSet
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
)
from processors.aggregators.rows import (
    TestRunRow as RunRow,
)

pytestmark = pytest.mark.unit

BIG_KEY = 2**64 - 1  # event keys are unsigned 64-bit digests


def _rows(rng: random.Random, n: int) -> dict[type[Row], list[Row]]:
    """Rows of every kept family, with every field kind at its edges (None, 0, big keys)."""

    def key() -> int:
        return rng.choice([0, BIG_KEY, 2**63, rng.randrange(2**64)])

    def maybe(value: str) -> str | None:
        return rng.choice([None, value])

    out: dict[type[Row], list[Row]] = {}
    for i in range(n):
        t = T - rng.randrange(31 * D)
        agent = maybe(f"agent-{i % 3}")
        out.setdefault(RfcRow, []).append(
            RfcRow(t, key(), "decided", f"r{i % 5}", "human", maybe("accepted"))
        )
        out.setdefault(TaskRow, []).append(
            TaskRow(
                t, key(), "completed", f"t{i}", "ai_agent", rng.choice([None, 0.0, 1.25]), agent
            )
        )
        out.setdefault(ReviewRow, []).append(
            ReviewRow(t, key(), "completed", f"v{i}", "human", maybe("approved"), i, 0, maybe("c1"))
        )
        out.setdefault(RunRow, []).append(
            RunRow(t, key(), "ci", i, 0, 2**40, 0.1 * i, rng.choice([None, 0.0, 0.5]))
        )
        out.setdefault(ChangeRow, []).append(
            ChangeRow(t, key(), f"c{i}", t - H, maybe("merged"), maybe("human"), agent)
        )
        ids = tuple(f"c{j}" for j in range(rng.randrange(4)))
        out.setdefault(DeploymentRow, []).append(
            DeploymentRow(t, key(), f"d{i}", rng.random() < 0.5, "planned", ids, maybe("d0"), True)
        )
        out.setdefault(IncidentRow, []).append(
            IncidentRow(t, key(), "opened", f"i{i}", maybe(f"d{i}"))
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_row_comes_back_exactly(seed: int) -> None:
    table = StringTable()
    for cls, rows in _rows(random.Random(seed), 200).items():
        packed = RowColumns(cls, table)
        for row in rows:
            packed.append(row)
        assert len(packed) == len(rows)
        assert list(packed) == rows
        for got, want in zip(packed, rows, strict=True):
            assert [type(v) for v in got] == [type(v) for v in want]


def test_visible_is_the_window_after_the_cutoff_up_to_t() -> None:
    packed = RowColumns(IncidentRow, StringTable())
    rows = [IncidentRow(t, t, "opened", f"i{t}", None) for t in (T - 31 * D, T - D, T, T + 1)]
    for row in rows:
        packed.append(row)
    assert packed.visible(T - 31 * D, T) == rows[1:3]
    assert packed.visible(T - 31 * D, T) is packed.visible(T - 31 * D, T)  # one snapshot's list
    packed.release()
    assert packed.visible(T - D - 1, T + 1) == rows[1:]


def test_pruning_drops_old_rows_and_the_strings_only_they_used() -> None:
    table = StringTable()
    rows = _rows(random.Random(9), 300)
    packed = {cls: RowColumns(cls, table) for cls in rows}
    for cls, family in rows.items():
        for row in family:
            packed[cls].append(row)
    cutoff = T - 10 * D
    dropped = sum(p.prune(cutoff) for p in packed.values())
    assert dropped == sum(1 for family in rows.values() for r in family if r.t <= cutoff)
    strings_before = len(table)
    table.compact(list(packed.values()))
    assert len(table) < strings_before
    for cls, family in rows.items():
        assert list(packed[cls]) == [r for r in family if r.t > cutoff]
    # Every string left is used, and new rows after the compaction still resolve.
    used = set().union(*(p.string_indices() for p in packed.values()))
    assert used == set(range(len(table)))
    packed[IncidentRow].append(IncidentRow(T, 1, "resolved", "i-new", "d1"))
    assert list(packed[IncidentRow])[-1] == IncidentRow(T, 1, "resolved", "i-new", "d1")


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(st.text(max_size=30), st.sampled_from(["a\ud800b", "", "\x00"]))),
    releases=st.sets(st.integers(0, 60)),
)
def test_the_packed_string_table_names_every_string_once(
    values: list[str], releases: set[int]
) -> None:
    """Any text (multi-byte, NUL, a lone surrogate) comes back exactly under the number it
    was first given, with the index and the decoded strings forgotten at any point."""
    table, first = StringTable(), dict[str, int]()
    for step, value in enumerate(values):
        if step in releases:
            table.release()
        at = table.index(value)
        assert at == first.setdefault(value, len(first))
    table.release()
    assert table.strings == list(first)
    assert len(table) == len(first)


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.sampled_from([0, 1, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1)))
def test_a_block_takes_each_event_key_once_in_any_order(keys: list[int]) -> None:
    block, seen = HourBlock(), set()
    for key in keys:
        row = RfcRow(T, key, "submitted", "r", "human", None)
        assert block.add(row) == (key not in seen)
        seen.add(key)
    assert len(block) == len(seen)
    again = HourBlock.from_bytes(block.to_bytes())
    assert [row.key for row in again.rows] == [row.key for row in block.rows]
    assert not any(again.add(RfcRow(T, key, "submitted", "r", "human", None)) for key in seen)


def test_a_nan_is_refused_rather_than_read_back_as_none() -> None:
    packed = RowColumns(TaskRow, StringTable())
    with pytest.raises(ValueError, match="NaN"):
        packed.append(TaskRow(T, 1, "completed", "t1", "human", math.nan))


def _sli(t: int, key: int) -> SliRow:
    return SliRow(t, key, "api", 10, 9, ((0.1, 3), (0.3, 8), (math.inf, 10)))


def test_a_block_read_and_extended_writes_what_a_fresh_block_would() -> None:
    first = [_sli(T - H + i, i) for i in range(1, 30)]
    later = [_sli(T - H + 100 + i, 1000 + i) for i in range(5)]
    stored = HourBlock(first, TeamMark(T - H, 1, "a")).to_bytes()
    assert HourBlock.from_bytes(stored).to_bytes() == stored  # kept as it was stored
    block = HourBlock.from_bytes(stored)
    assert not block.add(first[3])  # a re-sent event
    for row in later:
        assert block.add(row, TeamMark(row.t, row.key, "b"))
    fresh = HourBlock(first, TeamMark(T - H, 1, "a"))
    for row in later:
        fresh.add(row, TeamMark(row.t, row.key, "b"))
    assert block.to_bytes() == fresh.to_bytes()
    assert HourBlock.read(block.to_bytes()) == (first + later, TeamMark(later[-1].t, 1004, "b"), 0)
    assert block.rows == first + later and len(block) == len(first) + len(later)


def test_an_older_block_is_written_again_in_the_current_format() -> None:
    rows = [_sli(T - H + i, i) for i in range(1, 4)]
    legacy = json.dumps(
        {"v": 2, "rows": [["sli", r.t, r.key, r.service, r.total, r.good, 8] for r in rows]}
    ).encode()
    block = HourBlock.from_bytes(legacy)
    written = json.loads(block.to_bytes())
    assert written["v"] == BLOCK_FORMAT
    assert HourBlock.read(block.to_bytes())[0] == [r._replace(latency=((0.3, 8),)) for r in rows]


def test_a_stored_block_holding_an_event_twice_reads_it_once() -> None:
    row = _sli(T - 5, 7)
    twice = json.dumps(
        {"v": BLOCK_FORMAT, "rows": [json.loads(HourBlock([row]).to_bytes())["rows"][0]] * 2}
    )
    assert HourBlock.read(twice.encode())[0] == [row]
    assert len(HourBlock.from_bytes(twice.encode())) == 1
    assert HourBlock.from_bytes(twice.encode()).rows == [row]


def test_hour_set_keeps_hours_sorted_and_once() -> None:
    hours = HourSet()
    for hour in (5, 6, 6, 2, 9, 2, 7):
        hours.add(hour)
    assert list(hours) == [2, 5, 6, 7, 9] and hours.last() == 9 and 6 in hours and 3 not in hours
    hours.discard(6)
    hours.discard(4)
    assert list(hours) == [2, 5, 7, 9]
    assert hours.leading(lambda hour: hour < 7) == [2, 5]
    assert HourSet([3, 1, 3]).leading(lambda hour: True) == [1, 3]
