"""Development-process figures of one project as of T, split by actor (docs/metrics.md)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from core import catalogue
from processors.aggregators.rows import ReviewRow, RfcRow, Row, TaskRow, TestRunRow
from processors.aggregators.samples import (
    ACTORS,
    PROCESS_WINDOWS,
    WINDOWS_MS,
    Sample,
    quantile_samples,
    ratio_samples,
)

if TYPE_CHECKING:
    from processors.aggregators.state import ProjectState

FINAL_DECISIONS = ("accepted", "rejected")
BACKLOG_WINDOW = "30d"

R = TypeVar("R", bound=Row)


def _earliest(rows: Iterable[R], type_: str, id_field: str) -> dict[str, R]:
    """The earliest row of the given type per entity id (ties broken by event key)."""
    earliest: dict[str, R] = {}
    for row in rows:
        if getattr(row, "type", None) != type_:
            continue
        entity: str = getattr(row, id_field)
        known = earliest.get(entity)
        if known is None or (row.t, row.key) < (known.t, known.key):
            earliest[entity] = row
    return earliest


def _by_actor(rows: Iterable[R]) -> dict[str, list[R]]:
    grouped: dict[str, list[R]] = {actor: [] for actor in ACTORS}
    for row in rows:
        grouped.setdefault(row.actor, []).append(row)  # type: ignore[union-attr]
    return grouped


def _durations(closing: list[R], opened: Mapping[str, Row], id_field: str) -> list[float]:
    """Seconds from each entity's earliest opening event to each closing event that has one."""
    starts = [(row.t, opened.get(getattr(row, id_field))) for row in closing]
    return [(t - start.t) / 1000 for t, start in starts if start is not None]


def _rfc_samples(rows: list[RfcRow], as_of: int) -> list[Sample]:
    samples: list[Sample] = []
    submitted = _earliest(rows, "submitted", "rfc_id")
    decided_final = [r for r in rows if r.type == "decided" and r.decision in FINAL_DECISIONS]
    for window in PROCESS_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        in_window = [r for r in rows if r.t > start]
        subs = _by_actor(r for r in in_window if r.type == "submitted")
        finals = _by_actor(r for r in decided_final if r.t > start)
        for actor in ACTORS:
            labels = {"window": window, "actor": actor}
            decided = finals[actor]
            accepted = sum(1 for r in decided if r.decision == "accepted")
            samples += [
                Sample(catalogue.RFC_SUBMITTED.name, labels, float(len(subs[actor]))),
                Sample(catalogue.RFC_DECIDED.name, labels, float(len(decided))),
                *ratio_samples(catalogue.RFC_ACCEPTANCE_RATIO.name, labels, accepted, len(decided)),
                *quantile_samples(
                    catalogue.RFC_TIME_TO_DECISION_SECONDS.name,
                    labels,
                    _durations(decided, submitted, "rfc_id"),
                ),
            ]
    decided_ids = {r.rfc_id for r in decided_final}
    backlog_start = as_of - WINDOWS_MS[BACKLOG_WINDOW]
    open_rfcs = _by_actor(
        r for r in submitted.values() if r.t > backlog_start and r.rfc_id not in decided_ids
    )
    for actor in ACTORS:
        samples.append(
            Sample(catalogue.RFC_OPEN_BACKLOG.name, {"actor": actor}, float(len(open_rfcs[actor])))
        )
    return samples


def _task_samples(rows: list[TaskRow], as_of: int) -> list[Sample]:
    samples: list[Sample] = []
    started = _earliest(rows, "started", "task_id")
    for window in PROCESS_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        completed = _by_actor(r for r in rows if r.t > start and r.type == "completed")
        failed = _by_actor(r for r in rows if r.t > start and r.type == "failed")
        for actor in ACTORS:
            labels = {"window": window, "actor": actor}
            done, fails = completed[actor], failed[actor]
            cost = math.fsum(r.cost_usd or 0.0 for r in (*done, *fails))
            samples += [
                Sample(catalogue.TASK_COMPLETED.name, labels, float(len(done))),
                Sample(catalogue.TASK_FAILED.name, labels, float(len(fails))),
                *ratio_samples(
                    catalogue.TASK_SUCCESS_RATIO.name, labels, len(done), len(done) + len(fails)
                ),
                *quantile_samples(
                    catalogue.TASK_CYCLE_TIME_SECONDS.name,
                    labels,
                    _durations(done, started, "task_id"),
                ),
                Sample(catalogue.TASK_COST_USD.name, labels, cost),
                *ratio_samples(catalogue.TASK_COST_PER_TASK_USD.name, labels, cost, len(done)),
            ]
    return samples


def _review_samples(rows: list[ReviewRow], as_of: int) -> list[Sample]:
    samples: list[Sample] = []
    requested = _earliest(rows, "requested", "review_id")
    for window in PROCESS_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        completed = _by_actor(r for r in rows if r.t > start and r.type == "completed")
        for actor in ACTORS:
            labels = {"window": window, "actor": actor}
            done = completed[actor]
            approved = [r for r in done if r.outcome == "approved"]
            samples += [
                Sample(catalogue.REVIEW_COMPLETED.name, labels, float(len(done))),
                *quantile_samples(
                    catalogue.REVIEW_LATENCY_SECONDS.name,
                    labels,
                    _durations(done, requested, "review_id"),
                ),
                *ratio_samples(
                    catalogue.REVIEW_APPROVAL_RATIO.name, labels, len(approved), len(done)
                ),
                *ratio_samples(
                    catalogue.REVIEW_ITERATIONS_PER_CHANGE.name,
                    labels,
                    sum(r.iteration for r in approved),
                    len(approved),
                ),
                Sample(
                    catalogue.REVIEW_FINDINGS.name, labels, float(sum(r.findings for r in done))
                ),
            ]
    return samples


def _test_samples(rows: list[TestRunRow], as_of: int) -> list[Sample]:
    samples: list[Sample] = []
    for window in PROCESS_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        runs_by_actor = _by_actor(r for r in rows if r.t > start)
        for actor in ACTORS:
            labels = {"window": window, "actor": actor}
            runs = runs_by_actor[actor]
            executed = sum(r.passed + r.failed for r in runs)
            coverages = [r.coverage for r in runs if r.coverage is not None]
            samples += [
                Sample(catalogue.TEST_RUNS.name, labels, float(len(runs))),
                *ratio_samples(
                    catalogue.TEST_PASS_RATIO.name, labels, sum(r.passed for r in runs), executed
                ),
                *ratio_samples(
                    catalogue.TEST_FLAKY_RATIO.name, labels, sum(r.flaky for r in runs), executed
                ),
                *quantile_samples(
                    catalogue.TEST_DURATION_SECONDS.name, labels, [r.duration_s for r in runs]
                ),
                *ratio_samples(
                    catalogue.TEST_COVERAGE_RATIO.name, labels, math.fsum(coverages), len(coverages)
                ),
            ]
    return samples


def process_samples(state: ProjectState, as_of: int) -> list[Sample]:
    return [
        *_rfc_samples(list(state.visible(state.rfc, as_of)), as_of),
        *_task_samples(list(state.visible(state.task, as_of)), as_of),
        *_review_samples(list(state.visible(state.review, as_of)), as_of),
        *_test_samples(list(state.visible(state.test, as_of)), as_of),
    ]
