"""The series a shard serves per project: the metric catalogue and the per-project service cap.

Every series of a snapshot that belongs to a family of the catalogue is served; the only
protective limit is the number of services whose SLOs a project may export (``max_services``,
default 8, the busiest by 30d requests). A project above it keeps its busiest services, and
the count of services left out is served as ``devmetrics_project_services_capped{project}``
so that an alert names the project: nothing is dropped silently. See docs/exporters.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from exporters.errors import SeriesPolicyError
from exporters.snapshot import LabelPairs, ProjectSnapshot

DEFAULT_MAX_SERVICES = 8

DORA_WINDOWS = ("1d", "7d", "30d")
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
PROCESS_WINDOWS = ("1d", "7d")
QUANTILES = ("0.5", "0.9")
ACTORS = ("ai_agent", "human")
SLOS = ("availability", "latency")
DORA_TIER_METRICS = (
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "recovery_time",
    "overall",
)
SLO_RANK_WINDOW = "30d"

# Reasons a series of a snapshot is not served, as the ``reason`` label of the drop gauge.
DROP_SERVICE_CAP = "service_cap"
DROP_UNKNOWN_FAMILY = "unknown_family"


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
SERVICES_CAPPED = Family(
    "devmetrics_project_services_capped",
    "Services of the project whose SLOs are not served: above the per-project service cap.",
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
    Family("devmetrics_slo_sli_ratio", "Good / total requests of the SLO in the window."),
    Family(
        "devmetrics_slo_burn_rate",
        "(1 - SLI) / (1 - objective) in the window: 1 spends the budget in exactly the period.",
    ),
    Family("devmetrics_task_completed", "Tasks completed in the window."),
    Family("devmetrics_task_failed", "Task attempts failed in the window."),
    Family("devmetrics_task_success_ratio", "Completed / (completed + failed) tasks."),
    Family(
        "devmetrics_task_cycle_time_seconds",
        "Start-to-completion time of the tasks completed in the window.",
        "summary",
    ),
    Family("devmetrics_task_cost_usd", "Cost of the completed and failed tasks, in US dollars."),
    Family(
        "devmetrics_task_cost_per_task_usd",
        "Cost of the completed and failed tasks per completed task, in US dollars.",
    ),
    Family("devmetrics_review_completed", "Reviews completed in the window."),
    Family(
        "devmetrics_review_latency_seconds",
        "Request-to-completion time of the reviews completed in the window.",
        "summary",
    ),
    Family("devmetrics_review_approval_ratio", "Share of completed reviews that approved."),
    Family(
        "devmetrics_review_iterations_per_change",
        "Mean iteration of the approved reviews in the window.",
    ),
    Family("devmetrics_review_findings", "Findings reported by completed reviews."),
    Family("devmetrics_test_runs", "Test runs completed in the window."),
    Family("devmetrics_test_pass_ratio", "Passed / (passed + failed) tests."),
    Family("devmetrics_test_flaky_ratio", "Flaky / (passed + failed) tests."),
    Family(
        "devmetrics_test_duration_seconds", "Duration of the test runs in the window.", "summary"
    ),
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

FAMILIES: tuple[Family, ...] = (*META_FAMILIES, SERVICES_CAPPED, *_SAMPLE_FAMILIES)
"""Every family a shard serves per project, in exposition order."""

FAMILY_INDEX: dict[str, int] = {family.name: i for i, family in enumerate(FAMILIES)}
SAMPLE_FAMILY_NAMES = frozenset(family.name for family in _SAMPLE_FAMILIES)

# Per-project series of the catalogue, at most (docs/exporters.md, "The series a project
# costs"): the project's own, DORA and the process figures, and per service its two SLOs.
FIXED_SERIES = (
    len(META_FAMILIES)
    + len(DORA_WINDOWS) * (1 + 2 * len(QUANTILES) + 2)  # deployments, lead/recovery, ratios
    + 1  # deploy days per week (30d)
    + len(DORA_TIER_METRICS)
    + len(ACTORS) * (1 + len(PROCESS_WINDOWS) * (16 + 4 * len(QUANTILES)))
)
SERIES_PER_SERVICE = len(SLOS) * (2 + 4 * len(SLO_WINDOWS))

_SLO_PREFIX = "devmetrics_slo_"


def max_series(services: int) -> int:
    """The most series a project with ``services`` served services can cost."""
    return FIXED_SERIES + SERIES_PER_SERVICE * services


def services_by_traffic(snapshot: ProjectSnapshot) -> list[str]:
    """The snapshot's services, busiest first (30d requests over its SLOs), then by name."""
    traffic: dict[str, float] = defaultdict(float)
    for (name, pairs), value in snapshot.samples.items():
        if not name.startswith(_SLO_PREFIX):
            continue
        labels = dict(pairs)
        service = labels.get("service")
        if service is None:
            continue
        if name == "devmetrics_slo_requests" and labels.get("window") == SLO_RANK_WINDOW:
            traffic[service] += value
        else:
            traffic.setdefault(service, 0.0)
    return sorted(traffic, key=lambda service: (-traffic[service], service))


@dataclass(frozen=True, slots=True)
class Selected:
    """A sample chosen for export."""

    family: int
    labels: LabelPairs
    value: float


@dataclass(frozen=True, slots=True)
class Selection:
    """The samples a project exports; the services and series left out, by reason."""

    samples: list[Selected]
    services_capped: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    """How many services' SLOs a project may export (the busiest ones)."""

    max_services: int = DEFAULT_MAX_SERVICES

    def __post_init__(self) -> None:
        if self.max_services < 1:
            raise SeriesPolicyError(f"max_services must be >= 1, got {self.max_services}")

    def select(self, snapshot: ProjectSnapshot) -> Selection:
        """Every catalogue sample of the snapshot, but for the SLOs of capped services."""
        ranked = services_by_traffic(snapshot)
        capped = frozenset(ranked[self.max_services :])
        chosen: list[Selected] = []
        dropped: dict[str, int] = {}
        for (name, pairs), value in snapshot.samples.items():
            index = FAMILY_INDEX.get(name)
            if index is None or name not in SAMPLE_FAMILY_NAMES:
                dropped[DROP_UNKNOWN_FAMILY] = dropped.get(DROP_UNKNOWN_FAMILY, 0) + 1
                continue
            if capped and name.startswith(_SLO_PREFIX) and dict(pairs).get("service") in capped:
                dropped[DROP_SERVICE_CAP] = dropped.get(DROP_SERVICE_CAP, 0) + 1
                continue
            chosen.append(Selected(index, pairs, value))
        return Selection(chosen, len(capped), dropped)
