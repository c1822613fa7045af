"""AI impact of one project as of T (docs/metrics.md, "AI impact"): delivery split by the
change's author, per-agent figures under a bounded `agent` label, and the delivery lineage
from RFC to production timed per hop."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core import catalogue
from processors.aggregators.dora import Deliveries, is_rework
from processors.aggregators.rows import ChangeRow, ReviewRow, RfcRow, TaskRow
from processors.aggregators.samples import (
    DORA_WINDOWS,
    PROCESS_WINDOWS,
    WINDOWS_MS,
    Sample,
    quantile_samples,
    ratio_samples,
)

if TYPE_CHECKING:
    from processors.aggregators.state import ProjectState

AI_AGENT = "ai_agent"
RANK_WINDOW = "7d"
"""The window whose task events rank a project's agents."""


def _earliest(rows: Iterable[RfcRow | TaskRow], type_: str, id_of: str) -> dict[str, int]:
    """Entity id -> time of its earliest row of the given type (times only, so ties do not
    matter)."""
    first: dict[str, int] = {}
    for row in rows:
        if row.type == type_:
            entity: str = getattr(row, id_of)
            if row.t < first.get(entity, row.t + 1):
                first[entity] = row.t
    return first


def _earliest_by(rows: Iterable[TaskRow], id_of: str) -> dict[str, TaskRow]:
    """Entity id -> its earliest row of any type (ties broken by event key)."""
    first: dict[str, TaskRow] = {}
    for row in rows:
        entity: str = getattr(row, id_of)
        known = first.get(entity)
        if known is None or (row.t, row.key) < (known.t, known.key):
            first[entity] = row
    return first


def _authored_samples(delivered: Deliveries, as_of: int) -> list[Sample]:
    """Lead time by author, the agents' share, and failure and rework by AI assistance."""
    authored = [
        (at, delivered.changes[change_id].author, delivered.lead_time(change_id, at))
        for change_id, at in delivered.first_deployed.items()
        if change_id in delivered.changes and delivered.changes[change_id].author is not None
    ]

    def assisted(change_ids: tuple[str, ...]) -> str:
        changes = delivered.changes
        agents = any(c in changes and changes[c].author == AI_AGENT for c in change_ids)
        return "true" if agents else "false"

    split = [(row, assisted(row.change_ids)) for row in delivered.counted]
    samples: list[Sample] = []
    for window in DORA_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        labels = {"window": window}
        in_window = [(author, lead) for at, author, lead in authored if at > start]
        for author in catalogue.AUTHORS:
            samples += quantile_samples(
                catalogue.DORA_LEAD_TIME_BY_AUTHOR_SECONDS.name,
                {**labels, "author": author},
                [lead for who, lead in in_window if who == author],
            )
        samples += ratio_samples(
            catalogue.DORA_AI_CHANGE_SHARE_RATIO.name,
            labels,
            sum(1 for who, _ in in_window if who == AI_AGENT),
            len(in_window),
        )
        for value in catalogue.AI_ASSISTED:
            group = [row for row, flag in split if flag == value and row.t > start]
            failures = sum(1 for row in group if row.deployment_id in delivered.failed_ids)
            rework = sum(1 for row in group if is_rework(row))
            assist = {**labels, "ai_assisted": value}
            samples += [
                Sample(catalogue.DORA_DEPLOYMENTS_BY_ASSIST.name, assist, float(len(group))),
                *ratio_samples(
                    catalogue.DORA_CHANGE_FAILURE_BY_ASSIST_RATIO.name, assist, failures, len(group)
                ),
                *ratio_samples(
                    catalogue.DORA_REWORK_BY_ASSIST_RATIO.name, assist, rework, len(group)
                ),
            ]
    return samples


def agent_labels(
    tasks: list[TaskRow], changes: dict[str, ChangeRow], as_of: int, top_n: int
) -> dict[str, str]:
    """Agent name -> its `agent` label: the `top_n` busiest (task completed + failed events in
    the 7d window, ties by name) keep their name, the others are `other`."""
    start = as_of - WINDOWS_MS[RANK_WINDOW]
    busy: Counter[str] = Counter()
    for row in tasks:
        if row.agent is not None:
            busy[row.agent] += row.type in ("completed", "failed") and row.t > start
    for change in changes.values():
        if change.agent is not None:
            busy[change.agent] += 0
    ranked = sorted(busy, key=lambda name: (-busy[name], name))
    return {
        name: name if rank < top_n else catalogue.AGENT_OTHER for rank, name in enumerate(ranked)
    }


def _task_costs(tasks: list[TaskRow]) -> dict[str, float]:
    """Task id -> the sum of `cost_usd` of its completed and failed events (unset counts 0)."""
    parts: dict[str, list[float]] = {}
    for row in tasks:
        if row.type in ("completed", "failed"):
            parts.setdefault(row.task_id, []).append(row.cost_usd or 0.0)
    return {task: math.fsum(values) for task, values in parts.items()}


def _agent_samples(
    state: ProjectState, delivered: Deliveries, tasks: list[TaskRow], as_of: int
) -> list[Sample]:
    changes = delivered.changes
    label_of = agent_labels(tasks, changes, as_of, state.agent_top_n)
    costs = _task_costs(tasks)
    merged = _earliest_merge(state.visible(state.change, as_of))
    reviews: list[ReviewRow] = [
        row for row in state.visible(state.review, as_of) if row.type == "completed"
    ]
    samples: list[Sample] = []
    for window in PROCESS_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        done: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for row in tasks:
            if row.agent is not None and row.t > start:
                if row.type == "completed":
                    done[label_of[row.agent]] += 1
                elif row.type == "failed":
                    failed[label_of[row.agent]] += 1
        cost: dict[str, list[float]] = {}
        for change_id, merged_at in merged.items():
            change = changes.get(change_id)
            if merged_at > start and change and change.agent and change.task_id:
                cost.setdefault(label_of[change.agent], []).append(costs.get(change.task_id, 0.0))
        findings: Counter[str] = Counter()
        reviewed: dict[str, set[str]] = {}
        for review in reviews:
            change = changes.get(review.change_id or "")
            if review.t > start and change is not None and change.agent is not None:
                label = label_of[change.agent]
                findings[label] += review.findings
                reviewed.setdefault(label, set()).add(change.change_id)
        for label in sorted(set(label_of.values())):
            labels = {"window": window, "agent": label}
            n_done, n_failed, spent = done[label], failed[label], cost.get(label, [])
            samples += [
                Sample(catalogue.AGENT_TASK_COMPLETED.name, labels, float(n_done)),
                Sample(catalogue.AGENT_TASK_FAILED.name, labels, float(n_failed)),
                *ratio_samples(
                    catalogue.AGENT_TASK_SUCCESS_RATIO.name, labels, n_done, n_done + n_failed
                ),
                *ratio_samples(
                    catalogue.AGENT_COST_PER_MERGED_CHANGE_USD.name,
                    labels,
                    math.fsum(spent),
                    len(spent),
                ),
                *ratio_samples(
                    catalogue.AGENT_REVIEW_FINDINGS_PER_CHANGE.name,
                    labels,
                    findings[label],
                    len(reviewed.get(label, ())),
                ),
            ]
    return samples


def _lineage_samples(
    state: ProjectState, delivered: Deliveries, tasks: list[TaskRow], as_of: int
) -> list[Sample]:
    """Each hop's p50 and p90 by author, over the changes first deployed in the window that
    link to a task; a hop without both of its points is left out of that hop only."""
    rfcs: list[RfcRow] = list(state.visible(state.rfc, as_of))
    submitted = _earliest(rfcs, "submitted", "rfc_id")
    accepted = _earliest((r for r in rfcs if r.decision == "accepted"), "decided", "rfc_id")
    started = _earliest(tasks, "started", "task_id")
    completed = _earliest(tasks, "completed", "task_id")
    first_task_event = _earliest_by(tasks, "task_id")
    merged = _earliest_merge(state.visible(state.change, as_of))
    approved: dict[str, int] = {}
    for review in state.visible(state.review, as_of):
        assert isinstance(review, ReviewRow)
        change_id = review.change_id if review.outcome == "approved" else None
        if change_id and review.t < approved.get(change_id, review.t + 1):
            approved[change_id] = review.t

    # (deployed at, author, hop, seconds) of every hop that has both points.
    hops: list[tuple[int, str, str, float]] = []
    for change_id, deployed_at in delivered.first_deployed.items():
        change = delivered.changes.get(change_id)
        if change is None or change.author is None or change.task_id is None:
            continue
        task = change.task_id
        rfc = change.rfc_id
        if rfc is None and task in first_task_event:
            rfc = first_task_event[task].rfc_id
        points = (
            submitted.get(rfc) if rfc else None,
            accepted.get(rfc) if rfc else None,
            started.get(task),
            completed.get(task),
            change.committed_at,
            approved.get(change_id),
            merged.get(change_id),
            deployed_at,
        )
        for hop, earlier, later in zip(catalogue.LINEAGE_HOPS, points, points[1:], strict=False):
            if earlier is not None and later is not None:
                hops.append((deployed_at, change.author, hop, (later - earlier) / 1000))

    samples: list[Sample] = []
    for window in catalogue.LINEAGE_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        grouped: dict[tuple[str, str], list[float]] = {}
        for at, author, hop, seconds in hops:
            if at > start:
                grouped.setdefault((hop, author), []).append(seconds)
        for hop in catalogue.LINEAGE_HOPS:
            for author in catalogue.AUTHORS:
                samples += quantile_samples(
                    catalogue.LINEAGE_HOP_SECONDS.name,
                    {"window": window, "hop": hop, "author": author},
                    grouped.get((hop, author), []),
                )
    return samples


def ai_samples(state: ProjectState, as_of: int, delivered: Deliveries) -> list[Sample]:
    """Every figure of docs/metrics.md, "AI impact"."""
    tasks: list[TaskRow] = list(state.visible(state.task, as_of))
    return [
        *_authored_samples(delivered, as_of),
        *_agent_samples(state, delivered, tasks, as_of),
        *_lineage_samples(state, delivered, tasks, as_of),
    ]


def _earliest_merge(rows: Iterable[ChangeRow]) -> dict[str, int]:
    """Change id -> time of its earliest `merged` event."""
    first: dict[str, int] = {}
    for row in rows:
        if row.type == "merged" and row.t < first.get(row.change_id, row.t + 1):
            first[row.change_id] = row.t
    return first
