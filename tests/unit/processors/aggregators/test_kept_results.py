"""Kept group results (metrics.Part): a snapshot that reuses a group's result gives exactly
what computing it afresh gives, at every T, as rows arrive, are pruned and windows slide."""

from __future__ import annotations

import random

import pytest
from agg_helpers import D, H, M, T, as_map

from processors.aggregators import metrics
from processors.aggregators.metrics import Figures
from processors.aggregators.rows import Row, TeamMark, team_mark, to_row
from processors.aggregators.state import ProjectState
from producers.simulator.generator import SimConfig, generate_project, project_spec
from schemas.examples import example_event

pytestmark = pytest.mark.unit

FRESH = Figures(keep=False)


def _rows(seed: int, days: int) -> list[tuple[Row, TeamMark | None]]:
    config = SimConfig(seed=seed, start_ms=T - days * D, end_ms=T, sli_interval_s=3600)
    events = generate_project(project_spec(seed, 1), config)
    out = []
    for family, record in events:
        row = to_row(family, record)
        out.append((row, team_mark(row, record)))
    out.sort(key=lambda item: item[0].t)
    return out


def _check(kept: Figures, state: ProjectState, as_of: int, prune: bool) -> None:
    """Compare at `as_of`; `prune` first as the worker does (the results must not depend on
    it: rows beyond the retention are out of every window either way)."""
    if prune:
        state.prune(as_of)
    assert as_map(kept.result(state, as_of)) == as_map(FRESH.result(state, as_of)), as_of


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kept_results_equal_fresh_ones_as_rows_arrive_and_windows_slide(seed: int) -> None:
    """Rows folded in event-time order with snapshots in between, at steps from a minute to
    days (so rows cross every window's edge and the retention), sometimes with no new row,
    sometimes with late rows or rows ahead of T; every snapshot compared with a fresh
    computation."""
    rng = random.Random(seed)
    rows = _rows(seed, days=45)
    kept = Figures()
    state = kept.initialize("p")
    as_of = rows[0][0].t // M * M
    position = 0
    snapshots = 0
    while position < len(rows) or as_of < T + 32 * D:
        as_of += rng.choice([M, M, 5 * M, H, 6 * H, D, 3 * D])
        # Rows up to an hour ahead of T are folded too (clocks run ahead; the worker accepts
        # events up to its future skew): they become visible later, at their own time.
        ahead = as_of + rng.choice([0, 0, 10 * M, H])
        while position < len(rows) and rows[position][0].t <= ahead:
            row, team = rows[position]
            if rng.random() < 0.05 and position + 1 < len(rows):
                # A late row: its neighbour first.
                rows[position], rows[position + 1] = rows[position + 1], rows[position]
                row, team = rows[position]
            kept.agg(state, row, team)
            position += 1
        _check(kept, state, as_of, rng.random() < 0.5)
        snapshots += 1
        for _ in range(rng.randint(0, 3)):  # repeated snapshots between events
            as_of += rng.choice([M, 2 * M, 10 * M])
            _check(kept, state, as_of, rng.random() < 0.5)
            snapshots += 1
    assert state.kept_hits > snapshots // 2, (state.kept_hits, snapshots)


def test_a_kept_result_ends_where_a_row_leaves_its_window() -> None:
    """One deployment: kept from minute to minute, recomputed exactly when it leaves the 1d
    window (the count drops there, not a minute later)."""
    kept = Figures(parts=("dora",))
    state = kept.initialize("p")
    record = {**example_event("deployment", change_ids=[]), "occurred_at": T}
    deployment = to_row("deployment", record)
    kept.agg(state, deployment)

    def one_day(at: int) -> float:
        return as_map(kept.result(state, at))[("devmetrics_dora_deployments", (("window", "1d"),))]

    assert one_day(T) == 1.0
    hits = state.kept_hits
    assert one_day(T + D - M) == 1.0
    assert state.kept_hits == hits + 1
    assert one_day(T + D) == 0.0  # T - 1d < t fails from here on
    assert state.kept_hits == hits + 1


def test_kept_results_survive_the_series_table_starting_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A series table smaller than one snapshot starts again at nearly every keep: results
    kept under the old numbering are computed afresh, never read with the new one."""
    table = metrics._SeriesTable(limit=150)
    monkeypatch.setattr(metrics, "_SERIES", table)
    rows = _rows(5, days=10)
    kept = Figures()
    state = kept.initialize("p")
    for row, team in rows:
        kept.agg(state, row, team)
    for step in range(40):
        _check(kept, state, T + step * M, prune=False)
    assert table.generation > 10
