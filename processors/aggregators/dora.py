"""DORA metrics of one project as of T (docs/metrics.md, "DORA")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from core import catalogue
from processors.aggregators.rows import ChangeRow, DeploymentRow, IncidentRow
from processors.aggregators.samples import (
    DAY_MS,
    DORA_WINDOWS,
    HOUR_MS,
    WINDOWS_MS,
    Sample,
    nearest_rank,
    quantile_samples,
    ratio_samples,
)

if TYPE_CHECKING:
    from processors.aggregators.state import ProjectState

TIER_ELITE, TIER_HIGH, TIER_MEDIUM, TIER_LOW = 4, 3, 2, 1

# Tier bounds, best first: (bound, tier). See docs/metrics.md, "Tier thresholds".
DEPLOYMENT_FREQUENCY_TIERS = ((30, TIER_ELITE), (4, TIER_HIGH), (1, TIER_MEDIUM))
LEAD_TIME_TIERS_S = (
    (1 * DAY_MS / 1000, TIER_ELITE),
    (7 * DAY_MS / 1000, TIER_HIGH),
    (30 * DAY_MS / 1000, TIER_MEDIUM),
)
CHANGE_FAILURE_TIERS = ((0.05, TIER_ELITE), (0.20, TIER_HIGH), (0.30, TIER_MEDIUM))
RECOVERY_TIME_TIERS_S = (
    (HOUR_MS / 1000, TIER_ELITE),
    (DAY_MS / 1000, TIER_HIGH),
    (7 * DAY_MS / 1000, TIER_MEDIUM),
)


TIER_WINDOW_MS = WINDOWS_MS["30d"]
TIER_MIN_COVERED_MS = DAY_MS
"""Tiers are withheld while the history covers less than this (docs/metrics.md)."""


def deployment_frequency_tier(deployments_30d: int, covered_ms: int = TIER_WINDOW_MS) -> int:
    """The tier of the 30d count, judged as a rate over the covered span: the count scaled to
    30 days must reach the bound (`deployments * 30d >= bound * covered`, exact integers)."""
    return next(
        (
            tier
            for bound, tier in DEPLOYMENT_FREQUENCY_TIERS
            if deployments_30d * TIER_WINDOW_MS >= bound * covered_ms
        ),
        TIER_LOW,
    )


def lead_time_tier(p50_s: float) -> int:
    return next((tier for bound, tier in LEAD_TIME_TIERS_S if p50_s < bound), TIER_LOW)


def change_failure_tier(ratio: float) -> int:
    return next((tier for bound, tier in CHANGE_FAILURE_TIERS if ratio <= bound), TIER_LOW)


def recovery_time_tier(p50_s: float) -> int:
    return next((tier for bound, tier in RECOVERY_TIME_TIERS_S if p50_s < bound), TIER_LOW)


def _earliest_by_id(rows: Iterable[ChangeRow]) -> dict[str, ChangeRow]:
    """The earliest change event per change id (ties broken by event key)."""
    earliest: dict[str, ChangeRow] = {}
    for row in rows:
        known = earliest.get(row.change_id)
        if known is None or (row.t, row.key) < (known.t, known.key):
            earliest[row.change_id] = row
    return earliest


def _failed_deployment_ids(
    deployments: list[DeploymentRow], incidents: list[IncidentRow]
) -> set[str]:
    """Deployments named by an incident as its cause or rolled back by a rollback deployment."""
    failed = {row.caused_by for row in incidents if row.caused_by is not None}
    failed.update(
        row.rolls_back for row in deployments if row.kind == "rollback" and row.rolls_back
    )
    return failed


def _recovery_times(incidents: list[IncidentRow]) -> list[tuple[int, float]]:
    """(earliest resolved time, resolved - earliest opened in s) of incidents with a cause."""
    opened: dict[str, int] = {}
    resolved: dict[str, int] = {}
    caused: set[str] = set()
    for row in incidents:
        if row.caused_by is not None:
            caused.add(row.incident_id)
        times = opened if row.type == "opened" else resolved if row.type == "resolved" else None
        if times is not None and row.t < times.get(row.incident_id, row.t + 1):
            times[row.incident_id] = row.t
    return [
        (resolved_at, (resolved_at - opened[incident]) / 1000)
        for incident, resolved_at in resolved.items()
        if incident in caused and incident in opened
    ]


def is_rework(row: DeploymentRow) -> bool:
    """A hotfix, a rollback or a deployment remediating an incident."""
    return row.kind in ("hotfix", "rollback") or row.remediates


@dataclass(frozen=True, slots=True)
class Deliveries:
    """What the delivery figures share, as of T: the deployments DORA counts, which of them
    failed, when each change was first deployed and each change's earliest event."""

    counted: list[DeploymentRow]
    failed_ids: set[str]
    first_deployed: dict[str, int]
    """change id -> time of its first counted deployment (reading 3)."""
    changes: dict[str, ChangeRow]
    """change id -> its earliest change event (reading 2)."""
    incidents: list[IncidentRow]

    def lead_time(self, change_id: str, deployed_at: int) -> float:
        return (deployed_at - self.changes[change_id].committed_at) / 1000


def deliveries(state: ProjectState, as_of: int) -> Deliveries:
    deployments: list[DeploymentRow] = list(state.visible(state.deployment, as_of))
    incidents: list[IncidentRow] = list(state.visible(state.incident, as_of))
    counted = [row for row in deployments if row.counted]
    first_deployed: dict[str, int] = {}
    for row in counted:
        for change_id in row.change_ids:
            if row.t < first_deployed.get(change_id, row.t + 1):
                first_deployed[change_id] = row.t
    return Deliveries(
        counted,
        _failed_deployment_ids(deployments, incidents),
        first_deployed,
        _earliest_by_id(state.visible(state.change, as_of)),
        incidents,
    )


def dora_samples(state: ProjectState, as_of: int, delivered: Deliveries) -> list[Sample]:
    samples, tier_inputs = dora_window_samples(state, as_of, delivered)
    return samples + dora_history_samples(state, as_of, tier_inputs)


TierInputs = dict[str, float | None]


def dora_window_samples(
    state: ProjectState, as_of: int, delivered: Deliveries
) -> tuple[list[Sample], TierInputs]:
    """The DORA figures of each window, and the 30d inputs of the tiers: they depend on T only
    through which deployments, changes and incidents are in which window."""
    counted, failed_ids = delivered.counted, delivered.failed_ids
    lead_times = [
        (deployed_at, delivered.lead_time(change_id, deployed_at))
        for change_id, deployed_at in delivered.first_deployed.items()
        if change_id in delivered.changes
    ]
    recoveries = _recovery_times(delivered.incidents)

    samples: list[Sample] = []
    tier_inputs: TierInputs = {}
    for window in DORA_WINDOWS:
        start = as_of - WINDOWS_MS[window]
        labels = {"window": window}
        in_window = [row for row in counted if row.t > start]
        n = len(in_window)
        samples.append(Sample(catalogue.DORA_DEPLOYMENTS.name, labels, float(n)))
        if window == "30d":
            days = {row.t // DAY_MS for row in in_window}
            samples.append(
                Sample(catalogue.DORA_DEPLOY_DAY_PER_WEEK.name, labels, len(days) * 7 / 30)
            )
        window_leads = [value for at, value in lead_times if at > start]
        samples += quantile_samples(catalogue.DORA_LEAD_TIME_SECONDS.name, labels, window_leads)
        failures = sum(1 for row in in_window if row.deployment_id in failed_ids)
        samples += ratio_samples(catalogue.DORA_CHANGE_FAILURE_RATIO.name, labels, failures, n)
        window_recoveries = [value for at, value in recoveries if at > start]
        samples += quantile_samples(
            catalogue.DORA_RECOVERY_TIME_SECONDS.name, labels, window_recoveries
        )
        rework = sum(1 for row in in_window if is_rework(row))
        samples += ratio_samples(catalogue.DORA_REWORK_RATIO.name, labels, rework, n)
        if window == "30d":
            tier_inputs = {
                "deployments": n,
                "lead_p50": _p50(window_leads),
                "cfr": failures / n if n else None,
                "recovery_p50": _p50(window_recoveries),
            }
    return samples, tier_inputs


def dora_history_samples(state: ProjectState, as_of: int, tier_inputs: TierInputs) -> list[Sample]:
    """How much of each window the history covers, and the tiers once it covers a day: these
    move with T itself while the history is short (docs/metrics.md)."""
    samples: list[Sample] = []
    history_start = state.history_start(as_of)
    if history_start is None:
        return samples
    for window in DORA_WINDOWS:
        samples.append(
            Sample(
                catalogue.DORA_HISTORY_COVERAGE_RATIO.name,
                {"window": window},
                min(1.0, (as_of - history_start) / WINDOWS_MS[window]),
            )
        )
    covered = min(TIER_WINDOW_MS, as_of - history_start)
    if covered >= TIER_MIN_COVERED_MS:
        samples += _tier_samples(tier_inputs, covered)
    return samples


def _p50(values: list[float]) -> float | None:
    return nearest_rank(sorted(values), Fraction(1, 2)) if values else None


def _tier_samples(inputs: dict[str, float | None], covered_ms: int) -> list[Sample]:
    """The 30d tier of each metric that is present, and `overall` as floor of their mean;
    deployment frequency judged over the `covered_ms` of the window the history covers."""
    tiers: dict[str, int] = {}
    deployments = inputs["deployments"]
    assert deployments is not None
    tiers["deployment_frequency"] = deployment_frequency_tier(int(deployments), covered_ms)
    if inputs["lead_p50"] is not None:
        tiers["lead_time"] = lead_time_tier(inputs["lead_p50"])
    if inputs["cfr"] is not None:
        tiers["change_failure_rate"] = change_failure_tier(inputs["cfr"])
    if inputs["recovery_p50"] is not None:
        tiers["recovery_time"] = recovery_time_tier(inputs["recovery_p50"])
    samples = [Sample(catalogue.DORA_TIER.name, {"metric": m}, float(t)) for m, t in tiers.items()]
    overall = sum(tiers.values()) // len(tiers)
    samples.append(Sample(catalogue.DORA_TIER.name, {"metric": "overall"}, float(overall)))
    return samples
