"""Which series of a snapshot are exported: the per-project series budget.

A snapshot holds about 200 series; a shard exports at most ``max_series`` (100) per project.
Candidates are taken in priority order, in units that are kept or dropped whole (an SLO's
windows are one unit, so an alert never sees half an SLO): the project's own series, then
DORA, then the SLOs of the ``max_services`` busiest services, then the 7d process figures.
Whatever does not fit is dropped and counted by reason. See docs/exporters.md.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from exporters.errors import BudgetError
from exporters.snapshot import LabelPairs, ProjectSnapshot, SeriesKey

DEFAULT_MAX_SERIES = 100
DEFAULT_MAX_SERVICES = 2

DORA_WINDOWS = ("1d", "7d", "30d")
QUANTILES = ("0.5", "0.9")
DORA_TIER_METRICS = (
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "recovery_time",
    "overall",
)
# Every window a burn-rate alert reads; 30d is left out: the error budget covers the period.
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLO_RANK_WINDOW = "30d"
PROCESS_WINDOW = "7d"
ACTORS = ("ai_agent", "human")

# Reasons a series of a snapshot is not served, as the ``reason`` label of the drop gauge.
DROP_SERVICE_CAP = "service_cap"
DROP_SERIES_CAP = "series_cap"


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family as exposed: name, type and help text.

    Quantile families are summaries (the ``quantile`` label is reserved to them) without
    ``_sum`` and ``_count``: the snapshot holds nearest-rank quantiles only.
    """

    name: str
    help: str
    kind: str = "gauge"


# Series the exporter derives from the snapshot's own fields, not from its samples.
PROJECT_INFO = Family("devmetrics_project_info", "Descriptive attributes of a project; value 1.")
STATE_AS_OF = Family(
    "devmetrics_state_as_of_timestamp_seconds",
    "As-of time T of the project's state: every window ends at T.",
)
STATE_COMPUTED = Family(
    "devmetrics_state_computed_timestamp_seconds",
    "Wall time the project's state snapshot was computed.",
)
STATE_LAST_EVENT = Family(
    "devmetrics_state_last_event_timestamp_seconds",
    "Latest event time folded into the project's state.",
)
STATE_EVENTS = Family(
    "devmetrics_state_events_applied_total",
    "Distinct events folded into the project's state.",
    "counter",
)
META_FAMILIES = (PROJECT_INFO, STATE_AS_OF, STATE_COMPUTED, STATE_LAST_EVENT, STATE_EVENTS)

_SAMPLE_FAMILIES = (
    Family("devmetrics_dora_deployments", "Successful production deployments in the window."),
    Family(
        "devmetrics_dora_deploy_day_per_week",
        "Distinct UTC deployment dates in the 30d window, times 7 / 30.",
    ),
    Family(
        "devmetrics_dora_lead_time_seconds",
        "Commit-to-first-deployment time of the changes first deployed in the window.",
        "summary",
    ),
    Family(
        "devmetrics_dora_change_failure_ratio",
        "Share of the window's deployments that caused an incident or were rolled back.",
    ),
    Family(
        "devmetrics_dora_recovery_time_seconds",
        "Open-to-resolve time of deployment-caused incidents resolved in the window.",
        "summary",
    ),
    Family(
        "devmetrics_dora_rework_ratio",
        "Share of the window's deployments that were hotfixes, rollbacks or remediations.",
    ),
    Family("devmetrics_dora_tier", "DORA 2024 tier over 30d: 4 elite, 3 high, 2 medium, 1 low."),
    Family("devmetrics_slo_objective_ratio", "The SLO's configured objective."),
    Family(
        "devmetrics_slo_error_budget_remaining_ratio",
        "Share of the SLO period's error budget left; negative once overspent.",
    ),
    Family("devmetrics_slo_requests", "Requests counted by the SLO in the window."),
    Family("devmetrics_slo_requests_good", "Good requests of the SLO in the window."),
    Family("devmetrics_task_completed", "Tasks completed in the window."),
    Family("devmetrics_task_failed", "Task attempts failed in the window."),
    Family("devmetrics_task_success_ratio", "Completed / (completed + failed) tasks."),
    Family(
        "devmetrics_task_cycle_time_seconds",
        "Start-to-completion time of the tasks completed in the window.",
        "summary",
    ),
    Family("devmetrics_task_cost_usd", "Cost of the completed and failed tasks, in US dollars."),
    Family("devmetrics_review_completed", "Reviews completed in the window."),
    Family(
        "devmetrics_review_latency_seconds",
        "Request-to-completion time of the reviews completed in the window.",
        "summary",
    ),
    Family("devmetrics_review_approval_ratio", "Share of completed reviews that approved."),
    Family("devmetrics_review_findings", "Findings reported by completed reviews."),
    Family("devmetrics_test_runs", "Test runs completed in the window."),
    Family("devmetrics_test_pass_ratio", "Passed / (passed + failed) tests."),
    Family("devmetrics_test_flaky_ratio", "Flaky / (passed + failed) tests."),
    Family("devmetrics_test_coverage_ratio", "Mean coverage of the runs that report one."),
    Family("devmetrics_rfc_submitted", "RFCs submitted in the window."),
    Family("devmetrics_rfc_decided", "RFCs accepted or rejected in the window."),
    Family("devmetrics_rfc_acceptance_ratio", "Accepted / decided RFCs."),
    Family(
        "devmetrics_rfc_time_to_decision_seconds",
        "Submission-to-decision time of the RFCs decided in the window.",
        "summary",
    ),
    Family("devmetrics_rfc_open_backlog", "RFCs submitted in the last 30d still undecided."),
)

FAMILIES: tuple[Family, ...] = META_FAMILIES + _SAMPLE_FAMILIES
"""Every family a shard serves per project, in exposition order."""

FAMILY_INDEX: dict[str, int] = {family.name: i for i, family in enumerate(FAMILIES)}

# (name, extra labels) of the 7d process figures, in priority order; each for every actor.
_PROCESS: tuple[tuple[str, LabelPairs], ...] = (
    ("devmetrics_task_completed", ()),
    ("devmetrics_task_failed", ()),
    ("devmetrics_task_success_ratio", ()),
    ("devmetrics_task_cycle_time_seconds", (("quantile", "0.5"),)),
    ("devmetrics_task_cost_usd", ()),
    ("devmetrics_review_completed", ()),
    ("devmetrics_review_latency_seconds", (("quantile", "0.5"),)),
    ("devmetrics_review_approval_ratio", ()),
    ("devmetrics_review_findings", ()),
    ("devmetrics_test_runs", ()),
    ("devmetrics_test_pass_ratio", ()),
    ("devmetrics_test_flaky_ratio", ()),
    ("devmetrics_test_coverage_ratio", ()),
    ("devmetrics_rfc_submitted", ()),
    ("devmetrics_rfc_decided", ()),
    ("devmetrics_rfc_acceptance_ratio", ()),
    ("devmetrics_rfc_time_to_decision_seconds", (("quantile", "0.5"),)),
    ("devmetrics_rfc_open_backlog", ()),
)

_SLO_PREFIX = "devmetrics_slo_"
_UNWINDOWED = frozenset({"devmetrics_rfc_open_backlog"})


def _key(name: str, **labels: str) -> SeriesKey:
    return name, tuple(sorted(labels.items()))


def _dora_units() -> Iterator[list[SeriesKey]]:
    for window in DORA_WINDOWS:
        yield [_key("devmetrics_dora_deployments", window=window)]
    yield [_key("devmetrics_dora_deploy_day_per_week", window="30d")]
    for name in ("devmetrics_dora_lead_time_seconds", "devmetrics_dora_recovery_time_seconds"):
        for window in DORA_WINDOWS:
            for quantile in QUANTILES:
                yield [_key(name, window=window, quantile=quantile)]
    for name in ("devmetrics_dora_change_failure_ratio", "devmetrics_dora_rework_ratio"):
        for window in DORA_WINDOWS:
            yield [_key(name, window=window)]
    for metric in DORA_TIER_METRICS:
        yield [_key("devmetrics_dora_tier", metric=metric)]


def _slo_unit(service: str, slo: str) -> list[SeriesKey]:
    unit = [
        _key("devmetrics_slo_objective_ratio", service=service, slo=slo),
        _key("devmetrics_slo_error_budget_remaining_ratio", service=service, slo=slo),
    ]
    for window in SLO_WINDOWS:
        unit.append(_key("devmetrics_slo_requests", service=service, slo=slo, window=window))
        unit.append(_key("devmetrics_slo_requests_good", service=service, slo=slo, window=window))
    return unit


def services_by_traffic(snapshot: ProjectSnapshot) -> list[tuple[str, list[str]]]:
    """The snapshot's services with their SLOs, busiest first (30d requests), then by name."""
    slos: dict[str, set[str]] = {}
    traffic: dict[str, float] = defaultdict(float)
    for (name, pairs), value in snapshot.samples.items():
        if not name.startswith(_SLO_PREFIX):
            continue
        labels = dict(pairs)
        service, slo = labels.get("service"), labels.get("slo")
        if service is None or slo is None:
            continue
        slos.setdefault(service, set()).add(slo)
        if name == "devmetrics_slo_requests" and labels.get("window") == SLO_RANK_WINDOW:
            traffic[service] += value
    ranked = sorted(slos, key=lambda service: (-traffic[service], service))
    return [(service, sorted(slos[service])) for service in ranked]


def _process_units() -> Iterator[list[SeriesKey]]:
    for name, extra in _PROCESS:
        for actor in ACTORS:
            labels = dict(extra, actor=actor)
            if name not in _UNWINDOWED:
                labels["window"] = PROCESS_WINDOW
            yield [_key(name, **labels)]


@dataclass(frozen=True, slots=True)
class Selected:
    """A sample chosen for export."""

    family: int
    labels: LabelPairs
    value: float


@dataclass(frozen=True, slots=True)
class Selection:
    """The samples a project exports, and how many present series were left out, by reason."""

    samples: list[Selected]
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """How many series a project may export and how many services' SLOs are candidates."""

    max_series: int = DEFAULT_MAX_SERIES
    max_services: int = DEFAULT_MAX_SERVICES

    def __post_init__(self) -> None:
        floor = len(META_FAMILIES) + sum(len(unit) for unit in _dora_units())
        if self.max_series < floor:
            raise BudgetError(
                f"max_series {self.max_series} is below the {floor} series every project "
                "exports (its own series and DORA)"
            )
        if self.max_services < 0:
            raise BudgetError(f"max_services must be >= 0, got {self.max_services}")

    def select(self, snapshot: ProjectSnapshot, meta_series: int) -> Selection:
        """Choose the samples to export after ``meta_series`` series of the project's own."""
        samples = snapshot.samples
        ranked = services_by_traffic(snapshot)
        kept = (_slo_unit(s, slo) for s, slos in ranked[: self.max_services] for slo in slos)
        room = self.max_series - meta_series
        chosen: list[Selected] = []
        dropped: Counter[str] = Counter()
        for unit in itertools.chain(_dora_units(), kept, _process_units()):
            present = [key for key in unit if key in samples]
            if len(present) > room:
                dropped[DROP_SERIES_CAP] += len(present)
                continue
            room -= len(present)
            chosen.extend(
                Selected(FAMILY_INDEX[name], pairs, samples[name, pairs]) for name, pairs in present
            )
        for service, slos in ranked[self.max_services :]:
            for slo in slos:
                dropped[DROP_SERVICE_CAP] += sum(key in samples for key in _slo_unit(service, slo))
        return Selection(chosen, {reason: n for reason, n in dropped.items() if n})
